"""USB sticks: those plugged in (from sysfs) and those the helper mounted under one folder.

The helper mounts a stick's partition ``sda1`` at ``<backup.usb_root>/sda1``, read-only
unless a backup is being written, so the folder name is the device name and nothing here
needs root. FAT32, exFAT and NTFS are the file systems sticks come with.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..base.errors import N_, NotFound
from .helper import DEVICE

_DEVICE = re.compile(rf"^{DEVICE}$")
# vfat, exfat and ntfs3 in the kernel; exfat-fuse and ntfs-3g show as fuseblk; fusefat in tests.
STICK_TYPES = {"vfat", "msdos", "exfat", "ntfs", "ntfs3", "fuseblk", "fuse.fusefat", "fuse"}


def _unescape(field: str) -> str:
    """Undo /proc/mounts' octal escapes (a space is ``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounted(root: Path, mounts: Path = Path("/proc/self/mounts")) -> list[dict[str, Any]]:
    """Return the sticks mounted directly under ``root``: device, path, type, writable, space."""
    found = []
    try:
        lines = mounts.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        point = Path(_unescape(fields[1]))
        if point.parent != root or not _DEVICE.match(point.name):
            continue
        if fields[2] not in STICK_TYPES:
            continue
        try:
            usage = shutil.disk_usage(point)
        except OSError:
            continue  # pulled out without eject: the mount is gone underneath
        found.append(
            {
                "device": point.name,
                "path": str(point),
                "fstype": fields[2],
                "writable": "rw" in fields[3].split(","),
                # None when the file system does not say (FUSE FAT in the tests)
                "free_bytes": usage.free if usage.total else None,
                "total_bytes": usage.total,
            }
        )
    return sorted(found, key=lambda s: s["device"])


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _is_usb(disk: Path) -> bool:
    if _read(disk / "removable") == "1":
        return True
    return "/usb" in os.path.realpath(disk / "device")


def plugged_in(sys_block: Path) -> list[dict[str, Any]]:
    """Return the USB partitions (or whole sticks without a partition table) the kernel sees."""
    found = []
    for disk in sorted(sys_block.glob("sd*")):
        if not _DEVICE.match(disk.name) or not _is_usb(disk):
            continue
        parts = sorted(p for p in disk.iterdir() if p.name.startswith(disk.name) and p.is_dir())
        model = " ".join(
            filter(None, (_read(disk / "device" / "vendor"), _read(disk / "device" / "model")))
        )
        for part in parts or [disk]:
            if not _DEVICE.match(part.name):
                continue
            sectors = _read(part / "size")
            found.append(
                {
                    "device": part.name,
                    "model": model,
                    "size_bytes": int(sectors) * 512 if sectors.isdigit() else 0,
                }
            )
    return found


def find(root: Path, sys_block: Path) -> dict[str, list[dict[str, Any]]]:
    """Return ``mounted`` sticks and ``unmounted`` USB partitions (plugged in, not open yet)."""
    opened = mounted(root)
    names = {s["device"] for s in opened}
    waiting = [p for p in plugged_in(sys_block) if p["device"] not in names]
    return {"mounted": opened, "unmounted": waiting}


def stick_path(root: Path, device: str, mounts: Path = Path("/proc/self/mounts")) -> Path:
    """Return the folder where ``device`` is mounted.

    Raises:
        NotFound: code ``stick_not_mounted``, the stick is not (or no longer) mounted.
    """
    for stick in mounted(root, mounts):
        if stick["device"] == device:
            return Path(stick["path"])
    raise NotFound(
        N_("The USB stick %(device)s is not open; plug it in and press Open"),
        code="stick_not_mounted",
        device=device,
    )
