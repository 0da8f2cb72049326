"""A Kru bundle laid out as build-bundle.sh makes it, with a stand-in wheel (no pip needed)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "raspberrypi"


def make_bundle(
    path: Path, arch: str = "aarch64", wheel_bytes: bytes = b"stand-in", version: str = "0.1.0"
) -> Path:
    """Write a bundle at ``path`` for ``arch`` with checksums, and return ``path``."""
    path.mkdir()
    for name in ("install.sh", "README.md"):
        shutil.copy2(DEPLOY / name, path / name)
    for sub in ("systemd", "hotspot", "system", "bin", "tls"):
        shutil.copytree(DEPLOY / sub, path / sub)
    (path / "wheels").mkdir()
    (path / "wheels" / f"kru-{version}-py3-none-any.whl").write_bytes(wheel_bytes)
    (path / "requirements.txt").write_text(f"kru=={version}\n")
    (path / "VERSION").write_text(f"{version}\n")
    (path / "ARCH").write_text(arch + "\n")
    lines = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        lines.append(f"{digest}  {file.relative_to(path).as_posix()}\n")
    (path / "SHA256SUMS").write_text("".join(lines))
    return path
