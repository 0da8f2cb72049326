"""Disk images shaped like Raspberry Pi OS, made and read without root, loop devices or mounts:
partitions found with parted, the FAT boot partition read and written with mtools at its byte
offset (``image@@offset``), the ext4 root made with ``mke2fs -d`` and read with debugfs at its
offset (``image?offset=N``). build-image.sh edits images the same way."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

MIB = 1024 * 1024
DISK_ID = "4b52551f"  # the MBR disk identifier: fstab names the partitions PARTUUID=<id>-0N
BOOT_START_MIB = 4  # partition offsets and sizes as in Raspberry Pi OS Lite images
BOOT_SIZE_MIB = 512
ROOT_SIZE_MIB = 2048


def make_disk_image(
    out: Path,
    rootfs: Path,
    boot_files: dict[str, bytes],
    root_mib: int = ROOT_SIZE_MIB,
    boot_mib: int = BOOT_SIZE_MIB,
) -> Path:
    """Write a Raspberry Pi OS-shaped disk image: MBR with disk id ``DISK_ID``, FAT32 ``bootfs``
    holding ``boot_files``, ext4 ``rootfs`` made from the tree ``rootfs`` (owners kept)."""
    root_start = BOOT_START_MIB + boot_mib
    with open(out, "wb") as fh:
        fh.truncate((root_start + root_mib) * MIB)
    quiet = {"check": True, "capture_output": True}
    subprocess.run(
        ["parted", "-s", str(out), "mklabel", "msdos"]
        + ["mkpart", "primary", "fat32", f"{BOOT_START_MIB}MiB", f"{root_start}MiB"]
        + ["mkpart", "primary", "ext4", f"{root_start}MiB", "100%"],
        **quiet,
    )
    with open(out, "r+b") as fh:  # parted cannot set the disk identifier the PARTUUIDs use
        fh.seek(440)
        fh.write(int(DISK_ID, 16).to_bytes(4, "little"))
    subprocess.run(
        ["mkfs.vfat", "-F", "32", "-n", "bootfs", "--offset", str(BOOT_START_MIB * MIB // 512)]
        + [str(out), str(boot_mib * 1024)],
        **quiet,
    )
    with _tempdir(out.parent) as folder:
        for name, data in boot_files.items():
            (folder / name).write_bytes(data)
            mtools("mcopy", out, str(folder / name), f"::{name}")
    subprocess.run(
        ["mke2fs", "-q", "-t", "ext4", "-L", "rootfs", "-d", str(rootfs)]
        + ["-E", f"offset={root_start * MIB}", str(out), f"{root_mib}M"],
        **quiet,
    )
    return out


@contextlib.contextmanager
def _tempdir(parent: Path) -> Iterator[Path]:
    path = parent / f".tmp-{os.getpid()}-{time.monotonic_ns()}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def partition_offsets(image: Path) -> tuple[int, int]:
    """Return the byte offsets of partitions 1 (boot) and 2 (root) of ``image``."""
    table = subprocess.run(
        ["parted", "-s", "-m", str(image), "unit", "B", "print"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    starts = {
        line.split(":")[0]: int(line.split(":")[1].rstrip("B"))
        for line in table.splitlines()
        if line[:2] in ("1:", "2:")
    }
    return starts["1"], starts["2"]


def mtools(command: str, image: Path, *args: str) -> subprocess.CompletedProcess:
    """Run an mtools command on the boot partition of ``image`` (``::name`` names its files)."""
    boot, _ = partition_offsets(image)
    return subprocess.run(
        [command, "-i", f"{image}@@{boot}", *args],
        check=False,
        capture_output=True,
        env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
    )


def boot_files(image: Path) -> dict[str, bytes]:
    """Return the files at the top of the boot partition of ``image``."""
    listing = mtools("mdir", image, "-b", "::/").stdout.decode()
    names = [line.removeprefix("::/") for line in listing.split() if line.startswith("::/")]
    return {name: mtools("mtype", image, f"::{name}").stdout for name in names}


def debugfs(image: Path, request: str) -> subprocess.CompletedProcess:
    """Run one read-only debugfs request on the root partition of ``image``."""
    _, root = partition_offsets(image)
    return subprocess.run(
        ["debugfs", "-R", request, f"{image}?offset={root}"],
        check=False,
        capture_output=True,
    )


def root_file(image: Path, path: str) -> bytes | None:
    """Return a file of the root partition of ``image``, None when it is not there."""
    if b"Inode:" not in debugfs(image, f"stat {path}").stdout:
        return None
    return debugfs(image, f"cat {path}").stdout


def root_stat(image: Path, path: str) -> dict[str, int] | None:
    """Return type+mode, uid and gid of a path of the root partition, None when missing."""
    out = debugfs(image, f"stat {path}").stdout.decode()
    found = re.search(r"Mode:\s+(\d+).*?\n.*?User:\s+(\d+)\s+Group:\s+(\d+)", out, re.S)
    kind = re.search(r"Type: (\w+)", out)
    if not found or not kind:
        return None
    return {
        "type": kind.group(1),
        "mode": int(found.group(1), 8),
        "uid": int(found.group(2)),
        "gid": int(found.group(3)),
    }


def root_listing(image: Path, path: str) -> list[str]:
    """Return the names in a directory of the root partition (without . and ..)."""
    out = debugfs(image, f"ls -p {path}").stdout.decode()
    names = [line.split("/")[5] for line in out.splitlines() if line.count("/") >= 6]
    return [n for n in names if n not in (".", "..")]


# A USB stick as sticks come: an MBR with one FAT32 partition from 1 MiB (sda1 on the Pi).
STICK_START = 1 * MIB


def make_stick(out: Path, mib: int = 128) -> Path:
    """Write a USB stick image: one FAT32 partition labelled KRUSTICK, empty."""
    with open(out, "wb") as fh:
        fh.truncate(mib * MIB)
    quiet = {"check": True, "capture_output": True}
    subprocess.run(
        ["parted", "-s", str(out), "mklabel", "msdos", "mkpart", "primary", "fat32"]
        + [f"{STICK_START // MIB}MiB", "100%"],
        **quiet,
    )
    subprocess.run(
        ["mkfs.vfat", "-F", "32", "-n", "KRUSTICK", "--offset", str(STICK_START // 512)]
        + [str(out), str((mib * MIB - STICK_START) // 1024)],
        **quiet,
    )
    return out


def copy_from_stick(image: Path, name: str, dest: Path) -> subprocess.CompletedProcess:
    """Copy the file or folder ``name`` at the top of the stick ``image`` into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["mcopy", "-s", "-n", "-i", f"{image}@@{STICK_START}", f"::{name}", str(dest)],
        check=False,
        capture_output=True,
        env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
    )


def stick_names(image: Path) -> list[str]:
    """Return the names at the top of the stick ``image``."""
    listing = subprocess.run(
        ["mdir", "-b", "-i", f"{image}@@{STICK_START}", "::/"],
        check=False,
        capture_output=True,
        env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
    ).stdout.decode()
    return [
        line.removeprefix("::/").rstrip("/") for line in listing.split() if line.startswith("::/")
    ]
