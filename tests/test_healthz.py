"""``/healthz`` is cheap (a probe may ask every few seconds, docs/performance.md) and tells
the truth at once: what can change while the server runs is read on every request.

The cost is pinned by what a request does (one SQL query, no package metadata or
migration folders read), not by a timing; ``bench.cpu_cost --only healthz`` measures it.
"""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing

from playhouse.test_utils import count_queries

from edge_server.base import integrity
from edge_server.site import health


def _rows(app, sql: str, *params) -> list[tuple]:
    """Change the database the way another process (``kru migrate``, a restore) would."""
    with closing(sqlite3.connect(app.config["KRU_HOME"].database)) as con, con:
        return con.execute(sql, params).fetchall()


def test_healthz_asks_the_database_one_query(app, client):
    app.config["KRU_KEEP_DB_CONNECTIONS"] = True  # as kru serve runs it
    assert client.get("/healthz").status_code == 200
    with count_queries() as counted:
        body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert counted.count == 1


def test_healthz_reads_no_package_metadata_or_migration_folder_per_request(client):
    assert client.get("/healthz").status_code == 200
    listening = [True]
    paths: list[str] = []

    def audit(event: str, args: tuple) -> None:
        if listening and event in ("open", "os.listdir", "os.scandir"):
            paths.append(str(args[0]))

    sys.addaudithook(audit)  # a hook cannot be removed: this one stops listening below
    try:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
    finally:
        listening.clear()
    assert [p for p in paths if "METADATA" in p or "migrations" in p] == []


def test_a_migration_undone_by_another_process_shows_on_the_next_request(app, client):
    app.config["KRU_KEEP_DB_CONNECTIONS"] = True
    assert client.get("/healthz").get_json()["database"] == "ok"
    (last, applied_at) = _rows(
        app, "SELECT name, applied_at FROM kru_migrations ORDER BY name DESC LIMIT 1"
    )[0]
    _rows(app, "DELETE FROM kru_migrations WHERE name = ?", last)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "migrations_pending"
    _rows(app, "INSERT INTO kru_migrations (name, applied_at) VALUES (?, ?)", last, applied_at)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["database"] == "ok"


def test_a_database_from_a_newer_kru_shows_on_the_next_request(app, client):
    app.config["KRU_KEEP_DB_CONNECTIONS"] = True
    assert client.get("/healthz").status_code == 200
    _rows(app, "INSERT INTO kru_migrations VALUES ('m9999_from_the_future', '2027-01-01')")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "m9999_from_the_future" in response.get_json()["database"]


def test_damage_and_its_repair_show_on_the_next_request(app, client):
    assert client.get("/healthz").status_code == 200
    database = app.config["KRU_HOME"].database
    app.extensions["kru_integrity"] = integrity.Damaged(database, "row 3 missing from index")
    body = client.get("/healthz").get_json()
    assert body["status"] == "degraded" and body["database_file"] == str(database)
    app.extensions["kru_integrity"] = integrity.quick_check(database)
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_healthz_names_the_running_version(client):
    assert client.get("/healthz").get_json()["version"] == health.kru_version()
