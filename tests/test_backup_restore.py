"""``kru backup DEST`` / ``kru restore SRC`` on real SQLite files, as a site admin uses them."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_server.base.db import db
from edge_server.cli.main import get_cli


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("KRU_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("KRU_AUTH_HASH_MEMORY_KIB", "1024")
    monkeypatch.setenv("KRU_AUTH_HASH_TIME_COST", "1")


def kru(data_dir: Path, *args: str):  # click Result
    result = CliRunner().invoke(get_cli(), ["--data-dir", str(data_dir), *args])
    if not db.is_closed():
        db.close()
    return result


def usernames(data_dir: Path) -> list[str]:
    con = sqlite3.connect(data_dir / "kru.sqlite3")
    try:
        return sorted(r[0] for r in con.execute("SELECT username FROM users"))
    finally:
        con.close()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site with two accounts, one content file and its own secrets."""
    home = tmp_path / "site"
    assert kru(home, "user", "add", "sokha", "--password", "lotus-pond-7").exit_code == 0
    assert kru(home, "user", "add", "dara", "--password", "lotus-pond-7").exit_code == 0
    blob = b"lesson video bytes" * 1000
    import hashlib

    digest = hashlib.sha256(blob).hexdigest()
    (home / "content" / digest[:2]).mkdir(parents=True)
    (home / "content" / digest[:2] / digest).write_bytes(blob)
    from edge_server.base.datahome import DataHome

    DataHome(home).read_or_create_secret("flask_secret_key")
    return home


@pytest.fixture
def stick(tmp_path: Path) -> Path:
    path = tmp_path / "usb"
    path.mkdir()
    return path


def make_backup(site: Path, stick: Path, *extra: str) -> Path:
    result = kru(site, "backup", str(stick), *extra)
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip())


def test_backup_restored_on_new_card_has_the_same_accounts(site, stick, tmp_path):
    made = make_backup(site, stick)
    new_card = tmp_path / "new-card"
    result = kru(new_card, "restore", str(made))
    assert result.exit_code == 0, result.output
    assert usernames(new_card) == ["dara", "sokha"]


def test_restored_site_keeps_its_content_and_device_secrets(site, stick, tmp_path):
    made = make_backup(site, stick)
    new_card = tmp_path / "new-card"
    assert kru(new_card, "restore", str(made)).exit_code == 0
    for sub in ("content", "secrets"):
        old = {p.relative_to(site): p.read_bytes() for p in (site / sub).rglob("*") if p.is_file()}
        new = {
            p.relative_to(new_card): p.read_bytes()
            for p in (new_card / sub).rglob("*")
            if p.is_file()
        }
        assert new == old
    assert (new_card / "secrets" / "flask_secret_key").stat().st_mode & 0o077 == 0


def test_backup_manifest_lists_schema_and_content(site, stick):
    made = make_backup(site, stick)
    manifest = json.loads((made / "kru-backup.json").read_text())
    assert "m0001_accounts" in manifest["migrations"]
    assert [e["size"] for e in manifest["content"]] == [18000]


def test_backup_folder_holds_only_what_its_manifest_lists(site, stick):
    """The database copy is a plain (rollback-journal) file: no -wal or -shm beside it on the
    stick, which a FAT stick keeps as clutter (seen on the emulated Pi's stick)."""
    made = make_backup(site, stick)
    manifest = json.loads((made / "kru-backup.json").read_text())
    listed = {"kru-backup.json", "kru.sqlite3"}
    for part in ("content", "submissions", "secrets"):
        listed |= {f"{part}/{e['path']}" for e in manifest.get(part, [])}
    found = {p.relative_to(made).as_posix() for p in made.rglob("*") if p.is_file()}
    assert found == listed
    with sqlite3.connect(made / "kru.sqlite3") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_backup_without_content_keeps_the_manifest(site, stick):
    made = make_backup(site, stick, "--no-content")
    manifest = json.loads((made / "kru-backup.json").read_text())
    assert len(manifest["content"]) == 1 and not (made / "content").exists()


def test_backup_is_consistent_while_a_writer_is_busy(site, stick):
    writer = sqlite3.connect(site / "kru.sqlite3", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE users SET display_name = 'half-written' WHERE username = 'dara'")
        made = make_backup(site, stick)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    con = sqlite3.connect(made / "kru.sqlite3")
    try:
        names = [r[0] for r in con.execute("SELECT display_name FROM users")]
    finally:
        con.close()
    assert "half-written" not in names


def test_backup_to_missing_folder_is_one_clear_error(site, tmp_path):
    result = kru(site, "backup", str(tmp_path / "no-stick"))
    assert result.exit_code == 1
    assert "is not a folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_backup_of_empty_site_is_refused(tmp_path, stick):
    result = kru(tmp_path / "empty", "backup", str(stick))
    assert result.exit_code == 1
    assert "no site database" in result.stderr
    assert list(stick.iterdir()) == []


def test_restore_refuses_backup_from_newer_schema(site, stick, tmp_path):
    made = make_backup(site, stick)
    manifest = json.loads((made / "kru-backup.json").read_text())
    manifest["migrations"].append("m9999_from_the_future")
    manifest["kru_version"] = "9.0.0"
    (made / "kru-backup.json").write_text(json.dumps(manifest))
    new_card = tmp_path / "new-card"
    result = kru(new_card, "restore", str(made))
    assert result.exit_code == 1
    assert "newer Kru (9.0.0" in result.stderr
    assert not (new_card / "kru.sqlite3").exists()


def test_restore_refuses_to_overwrite_a_site_without_force(site, stick, tmp_path):
    made = make_backup(site, stick)
    other = tmp_path / "other"
    assert kru(other, "user", "add", "vanna", "--password", "lotus-pond-7").exit_code == 0
    result = kru(other, "restore", str(made))
    assert result.exit_code == 1
    assert "--force" in result.stderr
    assert usernames(other) == ["vanna"]


def test_restore_with_force_replaces_and_keeps_the_old_database(site, stick, tmp_path):
    made = make_backup(site, stick)
    other = tmp_path / "other"
    assert kru(other, "user", "add", "vanna", "--password", "lotus-pond-7").exit_code == 0
    assert kru(other, "restore", "--force", str(made)).exit_code == 0
    assert usernames(other) == ["dara", "sokha"]
    kept = list((other / "backups").glob("before-restore-*.sqlite3"))
    assert len(kept) == 1


def test_restore_refuses_damaged_backup_and_changes_nothing(site, stick, tmp_path):
    made = make_backup(site, stick)
    video = next((made / "content").rglob("*"))
    while video.is_dir():
        video = next(video.iterdir())
    video.write_bytes(b"X" + video.read_bytes()[1:])
    new_card = tmp_path / "new-card"
    result = kru(new_card, "restore", str(made))
    assert result.exit_code == 1
    assert "does not match its checksum" in result.stderr
    assert not (new_card / "kru.sqlite3").exists()
    assert not any((new_card / "content").iterdir())


def test_restore_refuses_folder_that_is_not_a_backup(tmp_path):
    (tmp_path / "holiday-photos").mkdir()
    result = kru(tmp_path / "site", "restore", str(tmp_path / "holiday-photos"))
    assert result.exit_code == 1
    assert "is not a Kru backup" in result.stderr
