"""A stand-in for deploy/raspberrypi/bin/kru-helper in tests: sticks are disk images.

``python fake_kru_helper.py CONFIG.json REQUEST``. The config maps a device name to an image
and its file system: FAT32 images are mounted with fusefat, exFAT with exfat-fuse on a loop
device, NTFS with ntfs-3g (this kernel has none of these file systems). ``restart``,
``clock-N`` and ``upgrade`` are written to the config's log, as the real helper would act on
them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REQUEST = re.compile(
    r"^(mount-(sd[a-z][0-9]{0,2})-(rw|ro)|eject-(sd[a-z][0-9]{0,2})|clock-[0-9]{10}|restart|upgrade)$"
)


def _mounted(point: Path) -> str | None:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if fields[1] == str(point):
            return fields[0]
    return None


def _unmount(point: Path) -> None:
    source = _mounted(point)
    if source is None:
        return
    subprocess.run(["fusermount", "-u", str(point)], check=True)
    if source.startswith("/dev/loop"):
        subprocess.run(["losetup", "-d", source], check=False)


def _mount(image: Path, fstype: str, point: Path, mode: str) -> None:
    point.mkdir(parents=True, exist_ok=True)
    if fstype == "vfat":
        options = "rw+" if mode == "rw" else "ro"
        command = ["fusefat", "-o", options, str(image), str(point)]
    elif fstype == "exfat":
        loop = subprocess.run(
            ["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=True
        ).stdout.strip()
        command = ["mount.exfat-fuse", "-o", mode, loop, str(point)]
    else:
        command = ["ntfs-3g", "-o", mode, str(image), str(point)]
    subprocess.run(command, check=True, capture_output=True)


def main(config_path: str, request: str) -> int:
    config = json.loads(Path(config_path).read_text())
    match = REQUEST.match(request)
    if not match:
        print(f"kru-helper: refused {request}", file=sys.stderr)
        return 2
    with open(config["log"], "a") as log:
        log.write(request + "\n")
    root = Path(config["root"])
    if request.startswith("mount-"):
        device, mode = match.group(2), match.group(3)
        if device not in config["sticks"]:
            print(f"kru-helper: no stick {device}", file=sys.stderr)
            return 1
        stick = config["sticks"][device]
        _unmount(root / device)
        _mount(Path(stick["image"]), stick["fstype"], root / device, mode)
    elif request.startswith("eject-"):
        _unmount(root / match.group(4))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
