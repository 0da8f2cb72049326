"""An emulated Raspberry Pi for the image boot test (issue 22): a stand-in for the Raspberry Pi
OS Lite image, Debian's arm64 kernel with a small initramfs, and QEMU to boot them.

The stand-in is what a device admin downloads from raspberrypi.com, as far as Kru's image
builder can tell: an MBR disk with a FAT boot partition (``bootfs``) and an ext4 root
(``rootfs``) holding Debian bookworm for arm64 with systemd, Python 3.11, avahi, fake-hwclock,
iw, rfkill and openssl, but without hostapd, dnsmasq, nginx and sqlite3 (Raspberry Pi OS Lite
has none of them; the bundle carries them as .deb files, see ``Kit.debs``). ``fstab`` names
both partitions by PARTUUID, as Raspberry Pi OS does. What it lacks: Raspberry Pi's kernel,
firmware and first-boot resize. A Pi's firmware loads the kernel from the boot partition; here
QEMU loads Debian's arm64 kernel directly and a busybox initramfs mounts the root partition.

The root file system and the kernel are built once with mmdebstrap (about 5 minutes, mostly
emulated package configuration) and cached in ``KRU_TEST_CACHE`` (/var/cache/kru-tests),
keyed by the package list and the build recipe below. Needs root (mmdebstrap, and
``binfmt_misc`` for the arm64 package scripts), and the Debian packages named in dev.sh.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.pi_disk import DISK_ID

CACHE = Path(os.environ.get("KRU_TEST_CACHE", "/var/cache/kru-tests"))
SUITE = "bookworm"
# Raspberry Pi OS Lite's base as far as Kru cares (systemd, udev, Python with venv, avahi,
# fake-hwclock, iw, rfkill, NetworkManager's job done by systemd-networkd here).
PACKAGES = (
    "systemd,systemd-sysv,systemd-timesyncd,udev,dbus,kmod,netbase,iproute2,"
    "e2fsprogs,dosfstools,python3,python3-venv,avahi-daemon,fake-hwclock,iw,rfkill,"
    "logrotate,ca-certificates,openssl"
)
# What install.sh needs and Raspberry Pi OS Lite lacks: carried by the bundle's debs/.
BUNDLE_DEBS = "hostapd dnsmasq nginx sqlite3 polkitd ntfs-3g"
# dpkg's fsync after every file is slow under emulation, and a cache that breaks is rebuilt.
MMDEBSTRAP_OPTIONS = ("--variant=minbase", "--arch=arm64", "--dpkgopt=force-unsafe-io")
# Run by mmdebstrap after the packages are installed, with the new root as $1 and the kit
# directory as $KIT: the stand-in's own settings, the .deb files for the bundle, the kernel.
CUSTOMIZE = r"""
set -eu
root=$1
echo raspberrypi > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n' > "$root/etc/hosts"
printf 'PARTUUID=%s-01  /boot/firmware  vfat  defaults  0  2\n' "$DISK_ID" > "$root/etc/fstab"
printf 'PARTUUID=%s-02  /  ext4  defaults,noatime  0  1\n' "$DISK_ID" >> "$root/etc/fstab"
mkdir -p "$root/boot/firmware"
printf '[Match]\nName=eth* en*\n\n[Network]\nDHCP=yes\n' > "$root/etc/systemd/network/wired.network"
chroot "$root" systemctl enable systemd-networkd.service
fetch() { chroot "$root" apt-get install -q -y --download-only --no-install-recommends "$@"; }
archives=$root/var/cache/apt/archives
rm -f "$archives"/*.deb
fetch $BUNDLE_DEBS
mkdir "$KIT/debs"
mv "$archives"/*.deb "$KIT/debs/"
fetch linux-image-arm64 busybox-static
mkdir "$KIT/kernel"
for deb in "$archives"/linux-image-[0-9]*.deb "$archives"/busybox-static_*.deb; do
    dpkg-deb -x "$deb" "$KIT/kernel"
done
rm -f "$archives"/*.deb
"""


@dataclass(frozen=True)
class Kit:
    """A cached stand-in: ``rootfs/`` (the tree), ``kernel/`` (linux-image and busybox-static
    unpacked), ``debs/`` (``BUNDLE_DEBS`` and what they need that the root lacks)."""

    path: Path

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @property
    def debs(self) -> Path:
        return self.path / "debs"

    @property
    def kernel_tree(self) -> Path:
        return self.path / "kernel"


def debian_mirror() -> str:
    """Return the Debian mirror this machine's apt uses (bookworm), else deb.debian.org."""
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for uri in re.findall(r"(?:^URIs:\s*|^deb\s+(?:\[[^\]]*\]\s*)?)(\S+)", text, re.M):
            if uri.rstrip("/").endswith("/debian"):
                return uri
    return "http://deb.debian.org/debian"


def ensure_arm64_emulation() -> None:
    """Let this machine run arm64 programs (mmdebstrap runs the packages' scripts that way).

    Raises:
        RuntimeError: binfmt_misc or qemu-user-static is missing.
    """
    if _runs_arm64():
        return
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "status").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)], check=True)
    subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], check=True)
    if not _runs_arm64():
        raise RuntimeError(
            "arm64 programs do not run here: install qemu-user-static, binfmt-support"
        )


def _runs_arm64() -> bool:
    return subprocess.run(["arch-test", "arm64"], capture_output=True, check=False).returncode == 0


def kit_key() -> str:
    recipe = json.dumps([SUITE, MMDEBSTRAP_OPTIONS, PACKAGES, BUNDLE_DEBS, DISK_ID, CUSTOMIZE])
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def standin_kit(log: Path | None = None) -> Kit:
    """Return the cached stand-in kit, building it first when the cache has none."""
    kit = Kit(CACHE / f"pi-standin-{SUITE}-{kit_key()}")
    if (kit.path / "done").exists():
        return kit
    ensure_arm64_emulation()
    CACHE.mkdir(parents=True, exist_ok=True)
    build = CACHE / f"pi-build-{os.getpid()}"
    _remove(build)
    build.mkdir()
    env = {**os.environ, "KIT": str(build), "DISK_ID": DISK_ID, "BUNDLE_DEBS": BUNDLE_DEBS}
    try:
        with open(log or os.devnull, "ab") as out:
            subprocess.run(
                [
                    "mmdebstrap",
                    *MMDEBSTRAP_OPTIONS,
                    f"--include={PACKAGES}",
                    f"--customize-hook={CUSTOMIZE}",
                    SUITE,
                    str(build / "rootfs"),
                    debian_mirror(),
                ],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=1800,
            )
        (build / "done").write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))
        _remove(kit.path)
        build.rename(kit.path)
    finally:
        _remove(build)
    _prune(keep=kit.path)
    return kit


def run_in_standin(
    kit: Kit, argv: list[str], mnt: Path, timeout: float = 1800
) -> subprocess.CompletedProcess:
    """Run ``argv`` in the stand-in's root under qemu-user, with ``mnt`` at ``/mnt``.

    In its own mount, PID and network namespaces: the bind mount and ``/proc`` go when it
    ends, nothing reaches the network, and the cached root is only read."""
    ensure_arm64_emulation()
    script = 'mount --bind "$1" "$0/mnt" && mount -t proc proc "$0/proc" && shift && '
    script += 'exec chroot "$0" "$@"'
    # --kill-child: a timeout that kills unshare ends the emulated program too.
    isolate = ["unshare", "--mount", "--propagation", "private", "--fork", "--pid", "--net"]
    isolate.append("--kill-child")
    return subprocess.run(
        [*isolate, "sh", "-c", script, str(kit.rootfs), str(mnt), *argv],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=timeout,
        check=False,
    )


def _prune(keep: Path) -> None:
    """Remove kits of older recipes and builds left by runs that were killed (about 700 MB each)."""
    for path in CACHE.glob("pi-standin-*"):
        if path != keep:
            _remove(path)
    for path in CACHE.glob("pi-build-*"):
        pid = path.name.removeprefix("pi-build-")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            _remove(path)


def _remove(path: Path) -> None:
    """Delete a tree unless something is mounted inside it (a killed mmdebstrap leaves /dev,
    /proc and /sys mounted in its root: deleting through those would harm this machine)."""
    if not path.exists():
        return
    inside = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        if any(line.split()[1].startswith(inside) for line in mounts):
            return
    shutil.rmtree(path, ignore_errors=True)


# --- the kernel and a small initramfs: what a Pi's firmware and Raspberry Pi OS's own
# initramfs do, done by QEMU (direct kernel boot) and busybox

# Loaded in the initramfs: disk, network, random numbers, the file systems of both partitions
# (after switch_root the stand-in has no modules of its own), and the power button that
# QEMU's system_powerdown presses.
MODULES = (
    "virtio_mmio",
    "virtio_blk",
    "virtio_net",
    "virtio_rng",
    "crc32c_generic",  # ext4 asks for it by its crypto name at mount time
    "ext4",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_utf8",
    "evdev",  # /dev/input/event*, where logind sees the power button
    "gpio_keys",
    # A USB stick on QEMU's xHCI controller (sda), and the file systems sticks come with
    # (FAT is above; NTFS goes through ntfs-3g, which needs FUSE): issue 19's root helper
    # mounts it for the Site page's backups.
    "xhci_pci",
    "usb_storage",
    "sd_mod",
    "exfat",
    "fuse",
)
INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules); do insmod "/lib/modules/$m" 2>/dev/null; done
root=/dev/vda2
for arg in $(cat /proc/cmdline); do case "$arg" in root=/dev/*) root=${arg#root=} ;; esac; done
n=0
while [ ! -b "$root" ] && [ "$n" -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
if ! mount -t ext4 -o ro "$root" /newroot; then
    echo "initramfs: cannot mount $root"; sleep 1; poweroff -f
fi
mount --move /dev /newroot/dev
# An emulated Pi on a loaded machine is many times slower than a real one: udev may take more
# than systemd's default 90 s to name the boot partition, and then the boot stops in
# emergency mode. /run passes into systemd as it is, and its system.conf.d is read.
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run
mkdir -p /newroot/run/systemd/system.conf.d
printf '[Manager]\nDefaultDeviceTimeoutSec=900\nDefaultTimeoutStartSec=900\n' \
    > /newroot/run/systemd/system.conf.d/emulated-pi.conf
umount /proc /sys
exec switch_root /newroot /sbin/init
"""


def kernel(kit: Kit) -> Path:
    """Return Debian's arm64 kernel (a gzipped Image, which QEMU loads directly)."""
    return next((kit.kernel_tree / "boot").glob("vmlinuz-*"))


def _module_order(kit: Kit) -> list[Path]:
    """Return the module files for MODULES and their dependencies, dependencies first.

    The dependencies come from each module's own ``.modinfo`` (``depends=a,b``): the kit
    has no modules.dep (depmod runs in the kernel package's script, which is not run)."""
    release = kernel(kit).name.removeprefix("vmlinuz-")
    files = {
        path.name.removesuffix(".ko").replace("-", "_"): path
        for path in (kit.kernel_tree / "lib/modules" / release).rglob("*.ko")
    }
    order: list[Path] = []

    def visit(name: str) -> None:
        path = files[name]
        if path in order:
            return
        found = re.search(rb"\0depends=([^\0]*)\0", path.read_bytes())
        for need in filter(None, (found.group(1).decode().split(",") if found else [])):
            visit(need.replace("-", "_"))
        order.append(path)

    for name in MODULES:
        if name in files:  # else built into this kernel
            visit(name)
    return order


def initramfs(kit: Kit, out: Path) -> Path:
    """Write a gzipped newc cpio with static busybox, the modules and ``INIT``."""
    modules = _module_order(kit)
    archive = _Cpio()
    for folder in ("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"):
        archive.directory(folder)
    archive.device("dev/console", 5, 1)
    archive.file("bin/busybox", (kit.kernel_tree / "bin/busybox").read_bytes(), 0o755)
    archive.file("init", INIT.encode(), 0o755)
    archive.file("modules", "".join(f"{m.name}\n" for m in modules).encode(), 0o644)
    for module in modules:
        archive.file(f"lib/modules/{module.name}", module.read_bytes(), 0o644)
    out.write_bytes(gzip.compress(archive.finish(), compresslevel=1))
    return out


class _Cpio:
    """A newc ("070701") cpio archive, the format the kernel unpacks as initramfs."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)):
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, *rdev, len(name) + 1, 0]
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self.ino += 1
        blob = header + name.encode() + b"\0"
        blob += b"\0" * (-len(blob) % 4)
        self.parts.append(blob + data + b"\0" * (-len(data) % 4))

    def directory(self, name: str) -> None:
        self._entry(name, 0o040755)

    def file(self, name: str, data: bytes, mode: int) -> None:
        self._entry(name, 0o100000 | mode, data)

    def device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self.parts)


# --- QEMU


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmulatedPi:
    """``qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024`` booting ``image``, its
    port 80 forwarded to a free loopback port; no network beyond that (``restrict=on``)."""

    def __init__(
        self, image: Path, kit: Kit, initrd: Path, workdir: Path, stick: Path | None = None
    ) -> None:
        self.image = image
        self.stick = stick  # a USB stick image plugged into the Pi (sda), if any
        self.kit = kit
        self.initrd = initrd
        self.workdir = workdir
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen | None = None
        self.boots = 0
        self.console = workdir / "console-0.log"

    def start(self) -> EmulatedPi:
        """Power on. Raises: RuntimeError when QEMU does not start (its log says why)."""
        self.boots += 1
        self.console = self.workdir / f"console-{self.boots}.log"
        self.qmp = self.workdir / f"qmp-{self.boots}.sock"
        log = self.workdir / f"qemu-{self.boots}.log"
        for _attempt in range(3):  # the free port may be taken before QEMU binds it
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            with open(log, "wb") as out:
                self.proc = subprocess.Popen(self._argv(), stdout=out, stderr=subprocess.STDOUT)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                return self
            if "host forwarding" not in log.read_text(errors="replace"):
                break
        raise RuntimeError(f"QEMU did not start: {log.read_text(errors='replace')[-2000:]}")

    def _argv(self) -> list[str]:
        stick = [
            "-device", "qemu-xhci,id=usb",
            "-drive", f"file={self.stick},format=raw,if=none,id=stick,cache=writeback",
            "-device", "usb-storage,bus=usb.0,drive=stick,removable=on",
        ] if self.stick else []  # fmt: skip
        return [
            "qemu-system-aarch64",
            "-M", "virt",
            "-cpu", "cortex-a72",
            "-smp", "2",
            "-m", "1024",
            "-kernel", str(kernel(self.kit)),
            "-initrd", str(self.initrd),
            "-append", "console=ttyAMA0 root=/dev/vda2 rootwait fsck.repair=yes",
            "-drive", f"file={self.image},format=raw,if=none,id=disk,cache=writeback",
            "-device", "virtio-blk-device,drive=disk",
            "-netdev", f"user,id=net,restrict=on,hostfwd=tcp:127.0.0.1:{self.port}-:80",
            "-device", "virtio-net-device,netdev=net",
            "-device", "virtio-rng-device",
            "-display", "none",
            "-monitor", "none",
            "-serial", f"file:{self.console}",
            "-qmp", f"unix:{self.qmp},server=on,wait=off",
            *stick,
        ]  # fmt: skip

    def console_tail(self, lines: int = 60) -> str:
        try:
            text = self.console.read_text(errors="replace")
        except OSError:
            return "(no console output)"
        return "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """Return the CPU time QEMU used so far (the emulated work, whatever the load here)."""
        if not self.running():
            return 0.0
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_for(self, path: str, timeout: float) -> dict:
        """Poll ``path`` through the forwarded port until it answers 200 JSON; return it.

        Raises:
            RuntimeError: QEMU stopped, or no answer in time (with the console's end).
        """
        import urllib.request

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"QEMU stopped; console:\n{self.console_tail()}")
            if "You are in emergency mode" in self.console_tail():
                raise RuntimeError(f"the boot stopped in emergency mode:\n{self.console_tail(120)}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=10) as response:
                    return json.loads(response.read())
            except OSError as exc:
                last = exc
                time.sleep(2)
        raise RuntimeError(
            f"{path} gave no answer in {timeout:.0f}s ({last}); console:\n" + self.console_tail()
        )

    def power_down(self, timeout: float = 180) -> None:
        """Press the power button (systemd shuts down cleanly) and wait for QEMU to exit.

        Raises:
            RuntimeError: the guest did not power off in time.
        """
        assert self.proc is not None
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(self.qmp))
            reader = sock.makefile("rb")
            reader.readline()  # the greeting
            for command in ("qmp_capabilities", "system_powerdown"):
                sock.sendall(json.dumps({"execute": command}).encode() + b"\n")
                while b'"return"' not in (line := reader.readline()):
                    if not line:
                        break
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"the Pi did not power off in {timeout:.0f}s; console:\n{self.console_tail()}"
            ) from None

    def kill(self) -> None:
        if self.running():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(timeout=30)
