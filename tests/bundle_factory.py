"""A Kru bundle laid out as build-bundle.sh makes it, with a stand-in wheel (no pip needed)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "raspberrypi"


def make_bundle(path: Path, arch: str = "aarch64", wheel_bytes: bytes = b"stand-in") -> Path:
    """Write a bundle at ``path`` for ``arch`` with checksums, and return ``path``."""
    path.mkdir()
    for name in ("install.sh", "README.md"):
        shutil.copy2(DEPLOY / name, path / name)
    for sub in ("systemd", "hotspot", "system", "bin", "tls"):
        shutil.copytree(DEPLOY / sub, path / sub)
    (path / "wheels").mkdir()
    (path / "wheels" / "kru-0.1.0-py3-none-any.whl").write_bytes(wheel_bytes)
    (path / "requirements.txt").write_text("kru==0.1.0\n")
    (path / "VERSION").write_text("0.1.0\n")
    (path / "ARCH").write_text(arch + "\n")
    lines = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        lines.append(f"{digest}  {file.relative_to(path).as_posix()}\n")
    (path / "SHA256SUMS").write_text("".join(lines))
    return path
