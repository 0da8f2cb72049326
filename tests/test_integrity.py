"""A damaged database is reported by ``/healthz`` and ``kru doctor``, naming the file.

The damage is real: pages of the ``users`` table of a real site database are overwritten
with random bytes, as a power cut on an SD card can leave them. Before issue 12 both said
"ok" while every sign-in answered 500.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from edge_server.base import integrity
from tests.conftest import csrf_token
from tests.integrity_support import damage_table
from tests.livesite import KRU

ENV = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", "KRU_AUTH_HASH_TIME_COST": "1"}


def make_site(home: Path, learners: int = 300) -> Path:
    """Create a real site database with accounts through the CLI; return the database file."""
    subprocess.run(
        [*KRU, "--data-dir", str(home), "user", "add", "admin", "--role", "admin",
         "--password", "lotus-pond-7"],
        check=True, capture_output=True, env=ENV, timeout=120,
    )  # fmt: skip
    database = home / "kru.sqlite3"
    with closing(sqlite3.connect(database)) as conn:
        conn.executemany(
            "INSERT INTO users (uid, username, display_name, role, password_hash, active,"
            " created_at, updated_at) SELECT ?, ?, ?, 'learner', password_hash, 1,"
            " created_at, updated_at FROM users WHERE id = 1",
            [(os.urandom(8).hex(), f"learner{i}", f"សិស្ស {i}") for i in range(learners)],
        )
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return database


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@contextmanager
def started(live_site, home: Path) -> Iterator[str]:
    """Run ``kru serve`` (the ``live_site`` fixture) on ``home`` until it answers /healthz at
    all (503 included); stop it with SIGTERM afterwards."""
    site = live_site(env=ENV, data_dir=home, ready_statuses=(200, 503))
    try:
        yield site.url
    finally:
        site.stop()


def test_quick_check_finds_an_intact_database_intact(tmp_path):
    database = make_site(tmp_path / "home")
    result = integrity.quick_check(database)
    assert isinstance(result, integrity.Intact)
    assert result.ok and result.path == database


def test_quick_check_names_the_file_and_says_what_sqlite_found(tmp_path):
    database = make_site(tmp_path / "home")
    damage_table(database)
    result = integrity.quick_check(database)
    assert isinstance(result, integrity.Damaged)
    assert result.path == database
    assert str(database) in result.describe()
    assert result.message and result.message != "ok"


def test_quick_check_of_a_file_that_is_no_database(tmp_path):
    notes = tmp_path / "kru.sqlite3"
    notes.write_bytes(os.urandom(8192))
    result = integrity.quick_check(notes)
    assert isinstance(result, integrity.Damaged)
    assert "not a database" in result.message


def test_healthz_reports_a_damaged_database_naming_the_file(tmp_path, live_site):
    home = tmp_path / "home"
    database = make_site(home)
    damage_table(database)
    with started(live_site, home) as url:
        status, body = get_json(f"{url}/healthz")
        sign_in = urllib.request.Request(
            f"{url}/login", data=b"username=admin&password=lotus-pond-7", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError):  # what the learners see meanwhile
            urllib.request.urlopen(sign_in, timeout=10)  # loopback
    assert status == 503
    assert body["status"] == "degraded"
    assert body["database"] == "damaged"
    assert body["database_file"] == str(database)
    assert body["database_problem"]


def test_healthz_says_ok_for_an_intact_database(tmp_path, live_site):
    home = tmp_path / "home"
    make_site(home)
    site = live_site(env=ENV, data_dir=home)
    status, body = get_json(f"{site.url}/healthz")
    assert (status, body["database"]) == (200, "ok")


def test_doctor_reports_a_damaged_database_and_exits_1(tmp_path):
    home = tmp_path / "home"
    database = make_site(home)
    damage_table(database)
    result = subprocess.run(
        [*KRU, "--data-dir", str(home), "doctor"],
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    line = next(x for x in result.stdout.splitlines() if "Database integrity" in x)
    assert line.startswith("BAD")
    assert str(database) in line


def test_doctor_says_ok_for_an_intact_database(tmp_path):
    home = tmp_path / "home"
    make_site(home)
    result = subprocess.run(
        [*KRU, "--data-dir", str(home), "doctor"],
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    line = next(x for x in result.stdout.splitlines() if "Database integrity" in x)
    assert line.startswith("ok")


def test_the_check_runs_once_at_start_not_per_request(app, client, monkeypatch):
    calls = []
    monkeypatch.setattr(integrity, "quick_check", lambda path: calls.append(path))
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert calls == []
    assert app.extensions["kru_integrity"].ok


def test_kru_serve_reads_the_whole_database_once_at_start_not_twice(tmp_path, monkeypatch):
    # quick_check reads the whole file: a second read cost a Pi 3B+ a tenth of a second of
    # its start (issue 22).
    from edge_server.base import logs, server
    from edge_server.cli.context import CliContext
    from edge_server.cli.serve import _serve

    home = tmp_path / "home"
    database = make_site(home, learners=3)
    calls: list[Path] = []
    real = integrity.quick_check
    monkeypatch.setattr(integrity, "quick_check", lambda path: calls.append(path) or real(path))
    served = []
    monkeypatch.setattr(server, "serve_wsgi", lambda app, **where: served.append(app))
    monkeypatch.setenv("KRU_SNAPSHOTS_INTERVAL_S", "0")
    monkeypatch.setattr(logs, "configure", lambda *args: None)  # leave the tests' logging be
    _serve(CliContext(data_dir=str(home)), workers=1)
    assert calls == [database]
    assert served[0].extensions["kru_integrity"].ok


def test_damage_found_while_serving_turns_healthz_to_503(app, client, make_user):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as the real server does
    make_user(username="dara")
    database = app.config["KRU_HOME"].database
    assert client.get("/healthz").status_code == 200
    from edge_server.base.db import db

    db.close()
    damage_table(database)
    response = client.post(
        "/api/v1/session",
        json={"username": "dara", "password": "x"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code >= 400
    status = client.get("/healthz")
    assert status.status_code == 503
    assert status.get_json()["database_file"] == str(database)
