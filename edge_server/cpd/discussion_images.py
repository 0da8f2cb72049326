"""Images attached to discussion posts: checked with Pillow, kept on the site by sha256.

An upload goes through the default body cap (1 MiB, edge_server.web.bodylimit), so an image is
at most that; a phone photo is resized on the phone or refused with a clear message.
Only PNG, JPEG, GIF and WebP that Pillow can read are kept, served back with their own type.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from ..base.errors import N_, ValidationError

TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded


class ImageError(ValidationError):
    code = "invalid_image"


def folder(root: Path) -> Path:
    return root / "discussion"


def store(root: Path, data: bytes) -> str:
    """Check ``data`` is a picture and keep it under ``root``; return its sha256.

    Raises:
        ImageError: not a PNG, JPEG, GIF or WebP picture, or too many pixels.
    """
    from PIL import Image, UnidentifiedImageError  # only when a post has one

    try:
        with Image.open(io.BytesIO(data)) as img:
            kind = img.format
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(N_("The picture is too large. Send a smaller one."))
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise ImageError(N_("Attach a photo or picture (PNG, JPEG, GIF or WebP).")) from None
    if kind not in TYPES:
        raise ImageError(N_("Attach a photo or picture (PNG, JPEG, GIF or WebP)."))
    digest = hashlib.sha256(data).hexdigest()
    target = folder(root) / f"{digest}.{kind.lower()}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        os.replace(partial, target)
    return f"{digest}.{kind.lower()}"


def path_of(root: Path, name: str) -> tuple[Path, str] | None:
    """Return the stored file and its content type for a post's ``image`` value."""
    digest, _, ext = name.partition(".")
    kind = ext.upper()
    if len(digest) != 64 or kind not in TYPES or not all(c in "0123456789abcdef" for c in digest):
        return None
    path = folder(root) / f"{digest}.{ext}"
    return (path, TYPES[kind]) if path.is_file() else None
