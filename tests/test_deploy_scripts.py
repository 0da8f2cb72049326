"""The deploy scripts and units as written: shellcheck, systemd-analyze, the image staging tree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bundle_factory import make_bundle

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "raspberrypi"
SCRIPTS = sorted(
    p
    for p in [*DEPLOY.glob("*.sh"), *(DEPLOY / "bin").iterdir()]
    if "python" not in p.read_text().split("\n", 1)[0]  # kru-carry-back: Python, ruff checks it
)
PYTHON_SCRIPTS = sorted(
    p for p in (DEPLOY / "bin").iterdir() if "python" in p.read_text().split("\n", 1)[0]
)
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALLED_ONLY = re.compile(r"^\S+: Command /opt/kru[-/]\S+ is not executable: No such file")


def run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)


@pytest.mark.parametrize("script", PYTHON_SCRIPTS, ids=lambda p: p.name)
def test_python_scripts_are_clean_and_use_the_standard_library_only(script):
    """They run with the Pi's system python3, whichever Kru is installed."""
    ruff = Path(sys.executable).parent / "ruff"
    for argv in ([ruff, "check", script], [ruff, "format", "--check", script]):
        result = run(*argv)
        assert result.returncode == 0, result.stdout + result.stderr
    imports = re.findall(r"^(?:from|import) (\w+)", script.read_text(), re.M)
    assert set(imports) <= set(sys.stdlib_module_names) | {"__future__"}, imports


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_is_clean(script):
    result = run("shellcheck", "--severity=info", script)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_executable(script):
    assert os.access(script, os.X_OK)


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verify_finds_nothing_but_uninstalled_commands(unit):
    """Full verification, with Kru installed, runs in the chroot test (test_deploy_install)."""
    result = run("systemd-analyze", "verify", "--man=no", unit)
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and not INSTALLED_ONLY.match(line) and "sysinit.target" not in line
    ]
    assert problems == []


@pytest.mark.parametrize("unit", ["kru.service", "kru-sync.service"])
def test_services_are_hardened_and_restart(unit):
    text = (DEPLOY / "systemd" / unit).read_text()
    for line in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/kru",
        "PrivateTmp=yes",
        "Restart=on-failure",
        "After=local-fs.target network-online.target",
        "User=kru",
        "Environment=KRU_CONFIG=/etc/kru/kru.toml",
    ):
        assert line in text, f"{unit} lacks {line}"


def build_image(*args: str | Path) -> subprocess.CompletedProcess:
    return run(DEPLOY / "build-image.sh", *args, timeout=60)


def test_image_staging_tree_holds_bundle_and_enabled_first_boot_units(tmp_path):
    bundle = make_bundle(tmp_path / "bundle")
    stage = tmp_path / "stage"
    result = build_image("--bundle", bundle, "--stage-only", stage)
    assert result.returncode == 0, result.stderr
    assert (stage / "rootfs/opt/kru-bundle/install.sh").is_file()
    wants = stage / "rootfs/etc/systemd/system/multi-user.target.wants"
    enabled = sorted(p.name for p in wants.iterdir())
    assert "kru-install.service" in enabled and "kru-firstboot.service" in enabled
    assert os.readlink(wants / "kru.service") == "/etc/systemd/system/kru.service"
    assert (stage / "boot/kru-setup.toml.example").is_file()


def test_image_staging_tree_carries_no_identity_or_data(tmp_path):
    bundle = make_bundle(tmp_path / "bundle")
    stage = tmp_path / "stage"
    assert build_image("--bundle", bundle, "--stage-only", stage).returncode == 0
    names = {p.relative_to(stage / "rootfs").as_posix() for p in (stage / "rootfs").rglob("*")}
    assert not any(n.startswith(("var/lib/kru", "etc/kru", "opt/kru/")) for n in names)
    assert not any("secret" in n or n.endswith(".sqlite3") for n in names)
    assert not (stage / "boot/kru-setup.toml").exists()


def test_image_staging_adds_the_setup_file_when_given(tmp_path):
    bundle = make_bundle(tmp_path / "bundle")
    setup = tmp_path / "kru-setup.toml"
    setup.write_text('site_name = "CTC Kampot"\n')
    stage = tmp_path / "stage"
    assert build_image("--bundle", bundle, "--setup", setup, "--stage-only", stage).returncode == 0
    assert (stage / "boot/kru-setup.toml").read_text() == setup.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--bundle DIR is needed"),
        (["--bundle", "/nonexistent"], "is not a Kru bundle"),
        (["--bundle", "{bundle}"], "--image is needed"),
        (["--bundle", "{bundle}", "--image", "/nonexistent.img.xz"], "no image file"),
        (["--bundle", "{bundle}", "--image", "{image}"], "--out is needed"),
        (["--bundle", "{bundle}", "--image", "{image}", "--out", "{image}"], "add --force"),
        (["--bundle", "{host_bundle}", "--image", "{image}"], "a Pi needs --target pi"),
        (["--bundle", "{bundle}", "--setup", "{image}", "--stage-only", "{stage}"], "named kru"),
        (["--bogus"], "unknown option --bogus"),
    ],
)
def test_image_builder_rejects_bad_arguments(tmp_path, args, message):
    places = {
        "bundle": make_bundle(tmp_path / "bundle"),
        "host_bundle": make_bundle(tmp_path / "host-bundle", arch="x86_64"),
        "image": tmp_path / "raspios.img",
        "stage": tmp_path / "stage",
    }
    places["image"].write_bytes(b"\0" * 1024)
    result = build_image(*[a.format(**places) for a in args])
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_image_builder_rejects_damaged_bundle(tmp_path):
    bundle = make_bundle(tmp_path / "bundle")
    (bundle / "install.sh").write_text("#!/bin/sh\necho tampered\n")
    result = build_image("--bundle", bundle, "--stage-only", tmp_path / "stage")
    assert result.returncode == 1
    assert "is damaged" in result.stderr
    assert not (tmp_path / "stage").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "mips"], "--target must be pi or host"),
        (["--debs", "{empty}"], "holds no .deb files"),
        (["--frobnicate"], "unknown option --frobnicate"),
    ],
)
def test_bundle_builder_rejects_bad_arguments(tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    argv = [a.format(empty=tmp_path / "empty") for a in args]
    result = run(DEPLOY / "build-bundle.sh", *argv, "--out", tmp_path / "out", timeout=60)
    assert result.returncode == 1
    assert message in result.stderr
    assert not (tmp_path / "out").exists()
