"""``kru doctor``: every failure is explained in a sentence with its fix (issue 19)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def bad_rows(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("BAD")]


@pytest.fixture
def pi_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    files = {"flags": tmp_path / "get_throttled", "synced": tmp_path / "synchronized"}
    monkeypatch.setenv("KRU_SYSTEM_THROTTLED_FILE", str(files["flags"]))
    monkeypatch.setenv("KRU_SYSTEM_CLOCK_SYNCED_FILE", str(files["synced"]))
    monkeypatch.setenv("KRU_SYSTEM_HELPER", f"{sys.executable},-c,pass,{{request}}")
    return files


def test_a_healthy_site_has_no_failures(runner, pi_files):
    runner("migrate")
    result = runner("doctor")
    assert result.exit_code == 0, result.stdout
    assert "Clock" in result.stdout and "not synchronised" in result.stdout


@pytest.mark.parametrize(
    ("problem", "check", "fix"),
    [
        ("under_voltage", "Power supply", "official Raspberry Pi power supply"),
        ("hot", "Temperature", "where air moves"),
        ("low_disk", "Free disk", "remove packs you no longer use"),
        ("secrets_mode", "Secrets directory mode", "chmod 700"),
        ("unsigned", "Pack signatures", "packs.trusted_keys"),
        ("no_helper", "Root helper", "install.sh"),
        ("no_data_dir", "Data directory", "kru migrate"),
    ],
)
def test_each_failure_names_its_fix(problem, check, fix, runner, pi_files, data_dir, monkeypatch):
    if problem != "no_data_dir":
        runner("migrate")
    if problem == "under_voltage":
        pi_files["flags"].write_text("throttled=0x50005\n")
    elif problem == "hot":
        pi_files["flags"].write_text("0x80008\n")
    elif problem == "low_disk":
        monkeypatch.setenv("KRU_DISK_WARN_MB", str(10**9))
    elif problem == "secrets_mode":
        (data_dir / "secrets").mkdir(exist_ok=True)
        (data_dir / "secrets").chmod(0o755)
    elif problem == "unsigned":
        monkeypatch.setenv("KRU_PACKS_ALLOW_UNSIGNED", "false")
    elif problem == "no_helper":
        monkeypatch.setenv("KRU_SYSTEM_HELPER", "/nonexistent/kru-helper,{request}")
    result = runner("doctor")
    assert result.exit_code == 1
    bad = bad_rows(result.stdout)
    assert len(bad) == 1, result.stdout
    assert check in bad[0] and "Fix:" in bad[0] and fix in bad[0]


def test_a_good_power_supply_is_ok(runner, pi_files):
    runner("migrate")
    pi_files["flags"].write_text("throttled=0x0\n")
    pi_files["synced"].touch()
    result = runner("doctor")
    assert result.exit_code == 0, result.stdout
    assert "Power supply" in result.stdout and "synchronised over the network" in result.stdout
