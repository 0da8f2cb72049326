"""A Pi's outside world for live sites (browser tests, screenshots): a USB stick as a FAT32
image mounted through FUSE by the stand-in helper, the firmware's power flags, timesyncd's
flag file. ``FakePi(root).env`` are the settings a ``kru serve`` needs to use them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HELPER = Path(__file__).with_name("fake_kru_helper.py")


class FakePi:
    def __init__(self, root: Path, flags: str = "throttled=0x50005\n") -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.media = root / "media"
        self.media.mkdir(exist_ok=True)
        self.log = root / "helper.log"
        self.log.touch()
        self.config = root / "helper.json"
        self.flags = root / "get_throttled"
        self.flags.write_text(flags)
        self.synced = root / "synchronized"  # absent: the clock was not synchronised
        image = root / "sdz1.img"
        with open(image, "wb") as fh:
            fh.truncate(256 * 1024 * 1024)
        subprocess.run(
            ["mkfs.vfat", "-F", "32", "-n", "KRUSTICK", str(image)],
            check=True,
            capture_output=True,
        )
        sys_block = root / "sys-block" / "sdz"
        (sys_block / "sdz1").mkdir(parents=True, exist_ok=True)
        (sys_block / "removable").write_text("1\n")
        (sys_block / "sdz1" / "size").write_text(f"{256 * 2048}\n")
        self.config.write_text(
            json.dumps(
                {
                    "root": str(self.media),
                    "log": str(self.log),
                    "sticks": {"sdz1": {"image": str(image), "fstype": "vfat"}},
                }
            )
        )
        self.env = {
            "KRU_BACKUP_USB_ROOT": str(self.media),
            "KRU_SYSTEM_SYS_BLOCK": str(root / "sys-block"),
            "KRU_SYSTEM_HELPER": f"{sys.executable},{HELPER},{self.config},{{request}}",
            "KRU_SYSTEM_THROTTLED_FILE": str(self.flags),
            "KRU_SYSTEM_CLOCK_SYNCED_FILE": str(self.synced),
        }

    def requests(self) -> list[str]:
        return self.log.read_text().split()

    def unmount(self) -> None:
        subprocess.run([sys.executable, str(HELPER), str(self.config), "eject-sdz1"], check=False)
