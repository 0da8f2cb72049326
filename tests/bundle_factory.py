"""A Kru bundle laid out as build-bundle.sh makes it, with a stand-in wheel (no pip needed)."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
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


def release_keys_dir(tmp_path: Path, name: str = "ministry") -> Path:
    """Make the release key ``signed_release`` signs with (``kru release keygen``) and return a
    keys folder holding its public key as ``<name>.pub`` (the trusted keys' format)."""
    key = tmp_path / "release.key"
    folder = tmp_path / "release-keys"
    folder.mkdir(exist_ok=True)
    kru = [sys.executable, "-m", "edge_server.cli", "release"]
    made = subprocess.run(
        [*kru, "keygen", "-o", str(key)], check=True, capture_output=True, text=True
    )
    (folder / f"{name}.pub").write_text(made.stdout.strip() + "\n")
    return folder


def signed_release(tmp_path: Path, version: str, size: int = 1024 * 1024) -> tuple[Path, Path]:
    """Write a signed release bundle (``.tar.gz`` and ``.sig``) whose wheel is ``size``
    random bytes, signed with ``kru release sign`` (the key of ``release_keys_dir`` when it
    was made first, else a new one); return both paths."""
    name = f"kru-bundle-{version}-{platform.machine()}"
    folder = make_bundle(tmp_path / name, platform.machine(), os.urandom(size), version)
    tar = tmp_path / f"{name}.tar.gz"
    with tarfile.open(tar, "w:gz", compresslevel=1) as tf:
        tf.add(folder, arcname=name)
    kru = [sys.executable, "-m", "edge_server.cli", "release"]
    key = tmp_path / "release.key"
    if not key.exists():
        subprocess.run([*kru, "keygen", "-o", str(key)], check=True, capture_output=True)
    subprocess.run([*kru, "sign", str(tar), "--key", str(key)], check=True, capture_output=True)
    return tar, Path(f"{tar}.sig")
