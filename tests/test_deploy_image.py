"""build-image.sh on a small Raspberry Pi OS-shaped image (MBR, FAT ``bootfs``, ext4 ``rootfs``):
the partitions are edited inside the file at their offsets with mtools and debugfs, by a user
who is not root, with no loop device or mount. The same script and the same image shape boot in
QEMU in test_deploy_image_boot.py."""

from __future__ import annotations

import hashlib
import lzma
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pi_disk as disk
from tests.bundle_factory import make_bundle

ROOT = Path(__file__).resolve().parent.parent
BUILD_IMAGE = ROOT / "deploy" / "raspberrypi" / "build-image.sh"
NOBODY = 65534
MACHINE_ID = b"5d41402abc4b2a76b9719d911017c592\n"
RPI_BOOT = {"cmdline.txt": b"console=serial0,115200 root=PARTUUID=4b52551f-02 rootwait\n"}


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A folder the unprivileged builder may write (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="kru-image-test-"))
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def raspios_tree(path: Path, codename: str = "bookworm", arm64: bool = True) -> Path:
    """The parts of a Raspberry Pi OS root the builder looks at."""
    for folder in ("opt", "etc/systemd/system/multi-user.target.wants", "boot/firmware"):
        (path / folder).mkdir(parents=True)
    (path / "usr/lib" / ("aarch64-linux-gnu" if arm64 else "arm-linux-gnueabihf")).mkdir(
        parents=True
    )
    (path / "usr/lib/os-release").write_text(f"ID=debian\nVERSION_CODENAME={codename}\n")
    (path / "etc/os-release").symlink_to("../usr/lib/os-release")  # as in Debian
    (path / "etc/machine-id").write_bytes(MACHINE_ID)
    (path / "etc/machine-id").chmod(0o444)
    return path


def raspios_image(folder: Path, name: str = "raspios.img", root_mib: int = 128, **tree) -> Path:
    tree_dir = raspios_tree(folder / f"{name}-tree", **tree)
    image = disk.make_disk_image(folder / name, tree_dir, RPI_BOOT, root_mib=root_mib, boot_mib=64)
    shutil.rmtree(tree_dir)
    image.chmod(0o644)
    return image


def build_image(*args: str | Path) -> subprocess.CompletedProcess:
    """Run the builder as an ordinary user (nobody) when the tests run as root."""
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    argv = [*(drop if os.geteuid() == 0 else []), str(BUILD_IMAGE), *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def built(workdir) -> dict:
    bundle = make_bundle(workdir / "bundle", wheel_bytes=os.urandom(3 * 1024 * 1024))
    source = raspios_image(workdir)
    before = sha256(source)
    setup = workdir / "kru-setup.toml"
    setup.write_text('site_name = "CTC Kampot"\n')
    out = workdir / "out" / "kru.img"
    out.parent.mkdir()
    if os.geteuid() == 0:
        os.chown(out.parent, NOBODY, NOBODY)
    result = build_image(
        "--image", source, "--bundle", bundle, "--out", out, "--setup", setup
    )  # fmt: skip
    return {"result": result, "bundle": bundle, "source": source, "before": before, "out": out}


def test_image_builder_adds_the_bundle_to_the_root_partition_without_root(built):
    assert built["result"].returncode == 0, built["result"].stderr
    out, bundle = built["out"], built["bundle"]
    for file in sorted(p for p in bundle.rglob("*") if p.is_file()):
        inside = f"/opt/kru-bundle/{file.relative_to(bundle).as_posix()}"
        assert disk.root_file(out, inside) == file.read_bytes(), inside
        stat = disk.root_stat(out, inside)
        assert stat == {"type": "regular", "mode": file.stat().st_mode & 0o777, "uid": 0, "gid": 0}
    assert disk.root_stat(out, "/opt/kru-bundle/install.sh")["mode"] == 0o755
    assert disk.root_stat(out, "/opt/kru-bundle/wheels")["type"] == "directory"


def test_image_builder_enables_the_first_boot_units(built):
    out = built["out"]
    wants = "/etc/systemd/system/multi-user.target.wants"
    units = ["kru-firstboot", "kru-install", "kru-sync", "kru-wlan", "kru"]
    assert sorted(disk.root_listing(out, wants)) == sorted(f"{u}.service" for u in units)
    for unit in units:
        text = (ROOT / "deploy/raspberrypi/systemd" / f"{unit}.service").read_bytes()
        assert disk.root_file(out, f"/etc/systemd/system/{unit}.service") == text
        link = disk.debugfs(out, f"stat {wants}/{unit}.service").stdout.decode()
        assert "Type: symlink" in link
        assert f'Fast link dest: "/etc/systemd/system/{unit}.service"' in link


def test_image_builder_writes_the_boot_partition_and_keeps_its_files(built):
    files = disk.boot_files(built["out"])
    example = ROOT / "deploy/raspberrypi/system/kru-setup.toml.example"
    assert files["kru-setup.toml"] == b'site_name = "CTC Kampot"\n'
    assert files["kru-setup.toml.example"] == example.read_bytes()
    assert files["cmdline.txt"] == RPI_BOOT["cmdline.txt"]


def test_image_carries_no_identity_and_both_file_systems_check_clean(built):
    out = built["out"]
    assert disk.root_file(out, "/etc/machine-id") == b""
    assert disk.root_stat(out, "/etc/machine-id")["mode"] == 0o444
    for path in ("/var/lib/kru", "/etc/kru", "/opt/kru"):
        assert disk.root_stat(out, path) is None
    boot, root = disk.partition_offsets(out)
    fsck = subprocess.run(["e2fsck", "-fn", f"{out}?offset={root}"], capture_output=True)
    assert fsck.returncode == 0, fsck.stdout
    partition = out.parent / "boot.part"  # fsck.vfat reads a whole file: the partition's bytes
    with open(out, "rb") as whole, open(partition, "wb") as part:
        whole.seek(boot)
        part.write(whole.read(root - boot))
    fat = subprocess.run(["fsck.vfat", "-n", partition], capture_output=True)
    partition.unlink()
    assert fat.returncode == 0, fat.stdout


def test_image_builder_leaves_the_official_image_as_it_was(built):
    assert sha256(built["source"]) == built["before"]
    assert sorted(p.name for p in built["out"].parent.iterdir()) == ["kru.img"]
    assert "wrote" in built["result"].stdout and built["result"].stderr == ""


def test_image_builder_reads_an_xz_image(workdir):
    bundle = make_bundle(workdir / "bundle")
    plain = raspios_image(workdir)
    packed = workdir / "raspios.img.xz"
    packed.write_bytes(lzma.compress(plain.read_bytes(), preset=0))
    packed.chmod(0o644)
    out = workdir / "kru.img"
    result = build_image("--image", packed, "--bundle", bundle, "--out", out)
    assert result.returncode == 0, result.stderr
    assert disk.root_file(out, "/opt/kru-bundle/VERSION") == b"0.1.0\n"
    assert "kru-setup.toml" not in disk.boot_files(out)


def _taken(folder: Path, name: str) -> Path:
    image = raspios_image(folder, name)
    _, root = disk.partition_offsets(image)
    subprocess.run(
        ["debugfs", "-w", "-R", "mkdir /opt/kru-bundle", f"{image}?offset={root}"],
        check=True,
        capture_output=True,
    )
    return image


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d, n: (d / n).write_bytes(b"\0" * 4 * 1024 * 1024), "has no partition table"),
        (lambda d, n: raspios_image(d, n, codename="bullseye"), "not Raspberry Pi OS bookworm"),
        (lambda d, n: raspios_image(d, n, arm64=False), "not a 64-bit (arm64) image"),
        (lambda d, n: raspios_image(d, n, root_mib=40), "KiB free"),
        (_taken, "already has /opt/kru-bundle"),
        (lambda d, n: (d / n).write_bytes(b"not xz at all"), "not a readable .xz file"),
    ],
    ids=["no-table", "bullseye", "32-bit", "full", "kru-already", "bad-xz"],
)
def test_image_builder_refuses_a_wrong_image_and_writes_nothing(workdir, make, message):
    bundle = make_bundle(workdir / "bundle")
    name = "raspios.img.xz" if message.startswith("not a readable") else "raspios.img"
    make(workdir, name)
    (workdir / name).chmod(0o644)
    out = workdir / "kru.img"
    result = build_image("--image", workdir / name, "--bundle", bundle, "--out", out)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() and not Path(f"{out}.partial").exists()


def test_image_without_a_root_partition_is_refused(workdir):
    bundle = make_bundle(workdir / "bundle")
    image = workdir / "raspios.img"
    with open(image, "wb") as fh:
        fh.truncate(80 * disk.MIB)
    subprocess.run(
        ["parted", "-s", image, "mklabel", "msdos", "mkpart", "primary", "fat32", "4MiB", "100%"],
        check=True,
        capture_output=True,
    )
    subprocess.run(["mkfs.vfat", "-F", "32", "--offset", "8192", image], capture_output=True)
    image.chmod(0o644)
    result = build_image("--image", image, "--bundle", bundle, "--out", workdir / "kru.img")
    assert result.returncode == 1
    assert "no boot and root partitions" in result.stderr
    assert not (workdir / "kru.img").exists()
