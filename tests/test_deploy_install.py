"""install.sh for real: a Debian bookworm root made with debootstrap, a bundle built for this
machine, no network inside, first boot, and the site server answering /healthz.

The bookworm root is cached as a tarball in /var/cache/kru-tests (KRU_TEST_CACHE) so later
runs skip debootstrap; from an empty cache it is made again. Needs root and debootstrap.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.livesite import free_port
from tests.pi_emulator import debian_mirror

# Cold: debootstrap (about 2 min) + bundle + install; warm: a few seconds to unpack the root.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "raspberrypi"
CACHE = Path(os.environ.get("KRU_TEST_CACHE", "/var/cache/kru-tests"))
# What Raspberry Pi OS Lite has or install.sh needs; installed here so the chroot is offline.
PACKAGES = (
    "systemd,systemd-timesyncd,dbus,python3,python3-venv,hostapd,dnsmasq,avahi-daemon,"
    "fake-hwclock,iw,rfkill,"
    "iproute2,logrotate,ca-certificates,"
    # The TLS front (issue 23) and the recovery salvage (issue 19).
    "nginx,openssl,sqlite3"
)
SETUP = """\
site_name = "CTC Kampot"
site_kind = "CTC"
province = "Kampot"
wifi_passphrase = "pepper-farm-77"
admin_password = "kampot-admin-1"
"""


def bookworm_tarball() -> Path:
    key = hashlib.sha256(PACKAGES.encode()).hexdigest()[:12]
    tarball = CACHE / f"bookworm-minbase-{key}.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    build = CACHE / f"build-{os.getpid()}"
    try:
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm", str(build)]
            + [debian_mirror()],
            check=True,
            capture_output=True,
            timeout=1500,
        )
        shutil.rmtree(build / "var/cache/apt/archives", ignore_errors=True)
        partial = tarball.with_suffix(f".{os.getpid()}.partial")  # two runs may build at once
        subprocess.run(["tar", "-C", str(build), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return tarball


def in_root(root: Path, *command: str, net: bool = False, **kwargs) -> list[str]:
    """Return argv running ``command`` chrooted in ``root`` with /proc, in its own mounts."""
    isolate = ["unshare", "--mount", "--propagation", "private", "--fork", "--pid"]
    if not net:
        isolate.append("--net")  # no network: installs must come from the bundle alone
    script = 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"'
    return [*isolate, "sh", "-c", script, str(root), *command]


def run_in(root: Path, *command: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        in_root(root, *command), capture_output=True, text=True, timeout=timeout, check=False
    )


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path install.sh may touch, with type, mode, owner, size and mtime."""
    seen = {}
    for top in (
        "opt/kru",
        "etc/kru",
        "etc/systemd",
        "var/lib/kru",
        "usr/local/bin",
        "etc/logrotate.d",
    ):
        for path in [root / top, *sorted((root / top).rglob("*"))]:
            st = path.lstat()
            seen[str(path.relative_to(root))] = (
                st.st_mode,
                st.st_uid,
                st.st_gid,
                st.st_size,
                st.st_mtime_ns,
            )
    for name in ("etc/passwd", "etc/group"):
        seen[name] = ((root / name).read_text(),)
    return seen


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        [str(DEPLOY / "build-bundle.sh"), "--target", "host", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


@pytest.fixture(scope="module")
def pi(tmp_path_factory, bundle) -> dict:
    """A bookworm root with Kru installed from the bundle; the output of both install runs."""
    root = tmp_path_factory.mktemp("bookworm") / "root"
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "-xpf", str(bookworm_tarball())], check=True)
    shutil.copytree(bundle, root / "opt/kru-bundle")
    first = run_in(root, "/opt/kru-bundle/install.sh")
    before = snapshot(root)
    second = run_in(root, "/opt/kru-bundle/install.sh")
    after = snapshot(root)
    return {"root": root, "first": first, "second": second, "before": before, "after": after}


@pytest.fixture(scope="module")
def booted(pi) -> dict:
    """The installed root after kru-firstboot.service ran with a good kru-setup.toml."""
    root = pi["root"]
    boot = root / "boot/firmware"
    boot.mkdir(parents=True, exist_ok=True)
    (boot / "kru-setup.toml").write_text(SETUP)
    result = run_in(root, *_unit_value(root, "kru-firstboot.service", "ExecStart"))
    return {**pi, "first_boot": result, "boot": boot}


def test_install_succeeds_offline_and_says_what_it_did(pi):
    first = pi["first"]
    assert first.returncode == 0, first.stdout + first.stderr
    assert "created the system user kru" in first.stdout
    assert "installed Kru 0.1.0 and its libraries from the bundle" in first.stdout
    assert "enabled kru.service" in first.stdout


def test_second_install_changes_nothing(pi):
    assert pi["second"].returncode == 0, pi["second"].stderr
    assert "nothing to change" in pi["second"].stdout
    assert pi["after"] == pi["before"]


def test_install_lays_out_user_venv_config_and_data_dir(pi):
    root = pi["root"]
    assert "kru:" in (root / "etc/passwd").read_text()
    assert (root / "opt/kru/venv/bin/kru").exists()
    assert "port = 80" in (root / "etc/kru/kru.toml").read_text()
    assert (root / "var/lib/kru").is_dir()
    assert (root / "etc/systemd/system/multi-user.target.wants/kru.service").is_symlink()


def test_units_verify_with_kru_installed(pi):
    units = [
        f"/etc/systemd/system/{u}"
        for u in ("kru.service", "kru-sync.service", "kru-firstboot.service", "kru-wlan.service")
    ]
    result = run_in(pi["root"], "systemd-analyze", "verify", "--man=no", *units)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == ""


def test_damaged_bundle_is_refused_before_any_change(pi, tmp_path):
    root = pi["root"]
    damaged = root / "opt/kru-bundle-damaged"
    shutil.copytree(root / "opt/kru-bundle", damaged)
    try:
        (damaged / "requirements.txt").write_text("kru==0.0.1\n")
        before = snapshot(root)
        result = run_in(root, "/opt/kru-bundle-damaged/install.sh")
        assert result.returncode == 1
        assert "the bundle is damaged" in result.stderr
        assert snapshot(root) == before
    finally:
        shutil.rmtree(damaged)


def _unit_value(root: Path, unit: str, key: str) -> list[str]:
    text = (root / "etc/systemd/system" / unit).read_text()
    return re.findall(rf"^{key}=(.*)$", text, re.M)


def test_first_boot_unit_applies_the_setup_file(booted):
    result = booted["first_boot"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KRU-CTC-Kampot" in (booted["root"] / "etc/hostapd/hostapd.conf").read_text()
    assert not (booted["boot"] / "kru-setup.toml").exists()


def test_site_server_answers_healthz_after_first_boot(booted):
    root = booted["root"]

    # Start the server as kru.service would, on a free port of the shared network.
    port = free_port()
    env = ["env", "-i", "PATH=/usr/bin:/bin", f"KRU_PORT={port}", "KRU_HOST=127.0.0.1"]
    env += _unit_value(root, "kru.service", "Environment")
    user = _unit_value(root, "kru.service", "User")[0]
    command = _unit_value(root, "kru.service", "ExecStart")[0].split()
    argv = in_root(
        root,
        "setpriv",
        f"--reuid={user}",
        f"--regid={user}",
        "--init-groups",
        *env,
        *command,
        net=True,
    )
    server = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = json.load(r)
                break
            except OSError:
                time.sleep(0.3)
        assert body is not None, (
            server.communicate(timeout=5) if server.poll() is not None else "no answer"
        )
        assert body["status"] == "ok"
        assert body["database"] == "ok"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=30)
    owners = {p.stat().st_uid for p in (root / "var/lib/kru").rglob("*")}
    kru_uid = int(
        next(
            line
            for line in (root / "etc/passwd").read_text().splitlines()
            if line.startswith("kru:")
        ).split(":")[2]
    )
    assert owners == {kru_uid}


def test_upgrade_keeps_the_data_directory(booted):
    root = booted["root"]
    data = root / "var/lib/kru"
    before = {p: p.read_bytes() for p in (data / "secrets").iterdir()}
    database = (data / "kru.sqlite3").read_bytes()
    (root / "opt/kru/venv/.kru-bundle").write_text("an older bundle\n")
    result = run_in(root, "/opt/kru-bundle/install.sh")
    assert result.returncode == 0, result.stderr
    assert "installed Kru 0.1.0" in result.stdout
    assert {p: p.read_bytes() for p in (data / "secrets").iterdir()} == before
    assert (data / "kru.sqlite3").read_bytes() == database


def fake_service_deb(folder: Path, package: str) -> Path:
    """A .deb named ``package`` whose script starts its service, as hostapd's and dnsmasq's do."""
    src = folder / f"{package}-src"
    (src / "DEBIAN").mkdir(parents=True)
    (src / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: 99.0\nArchitecture: all\n"
        "Maintainer: Kru tests <tests@kru.invalid>\nDescription: starts its service\n"
    )
    postinst = src / "DEBIAN/postinst"
    postinst.write_text(f"#!/bin/sh\ninvoke-rc.d {package} start || true\n")
    initscript = src / "etc/init.d" / package
    initscript.parent.mkdir(parents=True)
    initscript.write_text(  # systemctl enable hands a unit with an init script to update-rc.d
        f"#!/bin/sh\n### BEGIN INIT INFO\n# Provides: {package}\n# Required-Start: $remote_fs\n"
        "# Required-Stop: $remote_fs\n# Default-Start: 2 3 4 5\n# Default-Stop: 0 1 6\n"
        "# Short-Description: stand-in\n### END INIT INFO\nexit 0\n"
    )
    for script in (postinst, initscript):
        script.chmod(0o755)
    unit = src / "lib/systemd/system" / f"{package}.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n")
    deb = folder / f"{package}_99.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(src), str(deb)], check=True)
    shutil.rmtree(src)
    return deb


def test_missing_packages_come_from_debs_offline_and_start_no_service(pi, tmp_path):
    """A fresh image has no package lists; install.sh installs what is missing from the bundle's
    debs/ with no network, and package scripts may not start services meanwhile (at first boot
    a start waited for kru-firstboot, which waited for kru-install: a 30-minute deadlock)."""
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", str(pi["root"]), str(root)], check=True)
    assert run_in(root, "dpkg", "--purge", "dnsmasq").returncode == 0
    for lists in (root / "var/lib/apt/lists").glob("*_Packages*"):
        lists.unlink()
    bundle = root / "opt/kru-bundle"
    (bundle / "debs").mkdir()
    fake_service_deb(bundle / "debs", "dnsmasq")
    sums = subprocess.run(
        "find . -type f ! -name SHA256SUMS -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum",
        shell=True, cwd=bundle, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (bundle / "SHA256SUMS").write_text(sums)

    result = run_in(root, "/opt/kru-bundle/install.sh")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "installing dnsmasq from the bundle's debs/" in output
    assert "policy-rc.d denied execution of start" in output
    assert not (root / "usr/sbin/policy-rc.d").exists()
    status = run_in(root, "dpkg-query", "-W", "-f=${Status} ${Version}", "dnsmasq").stdout
    assert status == "install ok installed 99.0"


def test_root_helper_and_its_polkit_rule_are_installed(pi):
    """Issue 19: kru reaches root only through kru-helper@<request>.service."""
    root = pi["root"]
    helper = root / "opt/kru/bin/kru-helper"
    assert helper.stat().st_mode & 0o777 == 0o755 and helper.stat().st_uid == 0
    rule = root / "etc/polkit-1/rules.d/50-kru.rules"
    assert 'subject.user === "kru"' in rule.read_text()
    assert (root / "media/kru").is_dir()
    result = run_in(
        root, "systemd-analyze", "verify", "--man=no", "/etc/systemd/system/kru-helper@.service"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    refused = run_in(root, "/opt/kru/bin/kru-helper", "mount-mmcblk0p2-rw")
    assert refused.returncode == 1 and "refused request" in refused.stderr
    # Offline and without polkitd in the root, the install goes on and says what waits.
    assert "cannot install polkitd ntfs-3g" in pi["first"].stdout


def test_root_helper_packages_come_from_debs_offline(pi, tmp_path):
    """Issue 19: an offline Pi gets polkitd and ntfs-3g from the bundle's debs/ like the system
    packages, with no service started, and the install no longer warns about them."""
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", str(pi["root"]), str(root)], check=True)
    for lists in (root / "var/lib/apt/lists").glob("*_Packages*"):
        lists.unlink()
    bundle = root / "opt/kru-bundle"
    (bundle / "debs").mkdir()
    for package in ("polkitd", "ntfs-3g"):
        fake_service_deb(bundle / "debs", package)
    sums = subprocess.run(
        "find . -type f ! -name SHA256SUMS -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum",
        shell=True, cwd=bundle, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (bundle / "SHA256SUMS").write_text(sums)

    result = run_in(root, "/opt/kru-bundle/install.sh")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "installing polkitd ntfs-3g from the bundle's debs/" in output
    assert "policy-rc.d denied execution of start" in output
    assert "cannot install" not in output
    assert not (root / "usr/sbin/policy-rc.d").exists()
    for package in ("polkitd", "ntfs-3g"):
        status = run_in(root, "dpkg-query", "-W", "-f=${Status} ${Version}", package).stdout
        assert status == "install ok installed 99.0", package
