"""Versioned migrations: upgrades keep rows, newer databases are refused, backups come first."""

import sqlite3
from pathlib import Path

import pytest

from edge_server.base import migrate
from edge_server.base.datahome import DataHome
from edge_server.base.errors import KruError
from edge_server.site import database as schema


@pytest.fixture
def home(tmp_path):
    yield DataHome(tmp_path / "home").ensure()
    from edge_server.base.db import db

    if not db.is_closed():
        db.close()


def _all_names():
    return [m.name for m in migrate.discover(schema.MIGRATIONS)]


def test_migrations_are_numbered_and_named():
    names = _all_names()
    assert names[0] == "m0001_accounts"
    assert names == sorted(names)
    assert len(names) >= 3


def test_fresh_database_gets_every_migration(home):
    assert schema.upgrade(home) == _all_names()
    assert schema.upgrade(home) == []


def test_upgrade_from_the_first_version_keeps_rows(home):
    schema.upgrade(home, target="m0001_accounts")
    con = sqlite3.connect(home.database)
    columns = "uid, username, display_name, role, password_hash, created_at, updated_at"
    con.execute(
        f"INSERT INTO users ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("u1", "dara", "សុខ ដារា", "learner", "x", "2026-01-01", "2026-01-01"),
    )
    con.execute("INSERT INTO cohorts (uid, name, created_at) VALUES ('c1', 'ថ្នាក់ A', '2026-01-01')")
    con.execute("INSERT INTO cohort_members (cohort_id, user_id) VALUES (1, 1)")
    con.commit()
    con.close()

    applied = schema.upgrade(home)
    assert applied == _all_names()[1:]

    con = sqlite3.connect(home.database)
    assert con.execute("SELECT username, display_name FROM users").fetchall() == [
        ("dara", "សុខ ដារា")
    ]
    assert con.execute("SELECT count(*) FROM cohort_members").fetchone() == (1,)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"events", "packs", "items"} <= tables
    con.close()


def test_upgrade_backs_up_the_old_database_first(home):
    schema.upgrade(home, target="m0001_accounts")
    schema.upgrade(home)
    backups = list((home.root / "backups").glob("pre-*.sqlite3"))
    assert len(backups) == 1
    con = sqlite3.connect(backups[0])
    names = [r[0] for r in con.execute("SELECT name FROM kru_migrations")]
    con.close()
    assert names == ["m0001_accounts"]


def test_pending_migrations_block_start_and_name_the_command(home):
    schema.upgrade(home, target="m0001_accounts")
    with pytest.raises(migrate.PendingMigrations) as info:
        schema.check(home)
    assert "kru migrate" in info.value.message


def test_database_from_a_newer_kru_is_refused(home):
    schema.upgrade(home)
    con = sqlite3.connect(home.database)
    con.execute("INSERT INTO kru_migrations VALUES ('m9999_future', '2030-01-01')")
    con.commit()
    con.close()
    with pytest.raises(KruError) as info:
        schema.upgrade(home)
    assert info.value.code == "schema_too_new"


def test_cli_migrate_applies_then_reports_up_to_date(runner):
    first = runner("migrate", "--target", "m0001_accounts")
    assert first.stdout.strip() == "applied m0001_accounts"
    second = runner("migrate")
    assert "applied" in second.stdout
    assert runner("migrate").stdout.strip() == "database is up to date"


def test_pragmas_are_set_on_the_site_database(app):
    from edge_server.base.db import db

    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_two_processes_migrating_one_new_database_at_once(tmp_path):
    import subprocess
    import sys

    script = (
        "import sys; from edge_server.site import database as schema;"
        "from edge_server.base.datahome import DataHome;"
        "schema.upgrade(DataHome(__import__('pathlib').Path(sys.argv[1])).ensure())"
    )
    home = tmp_path / "shared-home"
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(home)], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    con = sqlite3.connect(home / "kru.sqlite3")
    names = [r[0] for r in con.execute("SELECT name FROM kru_migrations ORDER BY name")]
    con.close()
    assert names == _all_names()


def test_every_migrations_package_belongs_to_a_database():
    """A migration left in a package no database lists would never run (issue 13)."""
    from sync.central import db as central_db

    root = Path(__file__).resolve().parent.parent
    found = {
        ".".join(path.parent.relative_to(root).parts)
        for top in ("edge_server", "content_packs", "sync")
        for path in (root / top).rglob("migrations/__init__.py")
    }
    listed = [m.__name__ for m in (*schema.MIGRATIONS, *central_db.MIGRATIONS)]
    assert sorted(listed) == sorted(found)


def test_numbers_are_unique_across_the_site_features(tmp_path, monkeypatch):
    for name, number in (("one", "0101"), ("two", "0101")):
        package = tmp_path / f"feature_{name}"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / f"m{number}_{name}.py").write_text("def apply(db):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(KruError):
        migrate.discover(["feature_one", "feature_two"])


def test_the_mentor_role_and_observation_items_join_an_existing_database(home):
    """m0004 and m0091 widen two CHECK constraints in place: rows stay, others still fail."""
    schema.upgrade(home, target="m0003_user_sessions")
    con = sqlite3.connect(home.database)
    columns = "uid, username, display_name, role, password_hash, created_at, updated_at"
    con.execute(
        f"INSERT INTO users ({columns}) VALUES ('u1', 'dara', 'ដារា', 'learner', 'x', 't', 't')"
    )
    con.execute("INSERT INTO cohorts (uid, name, created_at) VALUES ('c1', 'A', 't')")
    con.execute("INSERT INTO cohort_members (cohort_id, user_id) VALUES (1, 1)")
    con.commit()
    con.close()

    assert {"m0004_mentors", "m0091_observation_items"} <= set(schema.upgrade(home))

    con = sqlite3.connect(home.database)
    con.execute("PRAGMA foreign_keys = ON")
    con.execute(
        f"INSERT INTO users ({columns}) VALUES ('u2', 'vanna', 'វណ្ណា', 'mentor', 'x', 't', 't')"
    )
    con.execute(
        "INSERT INTO mentor_students (mentor_id, learner_id, assigned_at) VALUES (2, 1, 't')"
    )
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(f"INSERT INTO users ({columns}) VALUES ('u3', 'x', 'x', 'boss', 'x', 't', 't')")
    sql = con.execute("SELECT sql FROM sqlite_master WHERE name = 'items'").fetchone()[0]
    assert "'task', 'observation')" in sql
    assert con.execute("SELECT count(*) FROM cohort_members").fetchone() == (1,)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    con.close()


def test_allowing_a_value_twice_changes_nothing(tmp_path):
    from peewee import SqliteDatabase

    db = SqliteDatabase(str(tmp_path / "t.sqlite3"))
    db.execute_sql("CREATE TABLE t (kind TEXT NOT NULL CHECK (kind IN ('a', 'b')))")
    with db.atomic():
        migrate.allow_value(db, "t", "kind", "c")
    with db.atomic():
        migrate.allow_value(db, "t", "kind", "c")
    sql = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 't'").fetchone()[0]
    assert sql.count("'c'") == 1
    db.execute_sql("INSERT INTO t VALUES ('c')")
    with pytest.raises(Exception, match="CHECK"):
        db.execute_sql("INSERT INTO t VALUES ('d')")
    db.close()
