"""Helpers for the task tests: the sample pack installed, real file bytes of each kind."""

from __future__ import annotations

import io
import os
from pathlib import Path

from content_packs.build import build_pack
from content_packs.install import install_pack

SAMPLE = Path(__file__).resolve().parents[1] / "content_packs" / "examples" / "classroom-reading"
TASK = "classroom-reading/plan-reading-lesson"
ALL_CLEAR = {"objective": "clear", "timing": "complete", "support": "planned"}  # 6 of 6
BELOW = {"objective": "vague", "timing": "partial", "support": "missing"}  # 2 of 6


def install_sample(app, tmp_path: Path) -> None:
    """Build the sample pack from its folder and install it on ``app``'s site."""
    zip_path = tmp_path / "classroom-reading.zip"
    build_pack(SAMPLE, zip_path)
    install_pack(zip_path, app.config["KRU"], app.config["KRU_HOME"])


def png_bytes(side: int = 1000) -> bytes:
    """Return a PNG of random pixels (about 3 MB at 1000 px: it does not compress)."""
    from PIL import Image

    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    body = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + os.urandom(2048).hex().encode()
    return body + b"\n%%EOF\n"
