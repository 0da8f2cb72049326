"""The server keeps one SQLite connection per thread instead of opening one per request."""

from __future__ import annotations

import sqlite3

import pytest

from edge_server.base.db import db


def _connection_of_a_request(client) -> object:
    assert client.get("/healthz").status_code == 200
    return db.connection()


def test_server_mode_reuses_the_connection_between_requests(app, client):
    app.config["KRU_KEEP_DB_CONNECTIONS"] = True
    first = _connection_of_a_request(client)
    assert _connection_of_a_request(client) is first


def test_without_server_mode_each_request_gets_a_fresh_connection(app, client):
    first = _connection_of_a_request(client)
    db.close()
    client.get("/healthz")
    assert db.is_closed()
    assert _connection_of_a_request(client) is not first


def test_kept_connection_keeps_the_design_pragmas(app, client):
    app.config["KRU_KEEP_DB_CONNECTIONS"] = True
    _connection_of_a_request(client)
    pragma = db.connection().execute
    assert pragma("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert pragma("PRAGMA foreign_keys").fetchone()[0] == 1
    assert pragma("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert pragma("PRAGMA busy_timeout").fetchone()[0] == 10000


def test_a_failed_request_does_not_leave_its_transaction_open(app, client):
    app.config.update(KRU_KEEP_DB_CONNECTIONS=True, PROPAGATE_EXCEPTIONS=False)

    def half_done():
        db.execute_sql("BEGIN IMMEDIATE")
        db.execute_sql("CREATE TABLE half_done (x)")
        raise RuntimeError("the request failed half-way")

    app.add_url_rule("/test-half-done", "half_done", half_done)
    assert client.get("/test-half-done").status_code == 500
    assert not db.connection().in_transaction
    assert db.execute_sql(
        "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'"
    ).fetchone() == (0,)


@pytest.mark.parametrize("first", ["/healthz", "/learn/"])
def test_a_kept_connection_closed_underneath_is_opened_again(app, client, login_as, first):
    # Closed behind peewee's back (peewee still holds it as open): the next request's
    # teardown raised "Cannot operate on a closed database" and /healthz answered 503.
    app.config["KRU_KEEP_DB_CONNECTIONS"] = True
    login_as("learner")
    stale = _connection_of_a_request(client)
    stale.close()
    response = client.get(first)
    assert response.status_code == 200
    assert db.connection() is not stale
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()["database"]) == (200, "ok")
    assert client.get("/learn/").status_code == 200  # a signed-in page reads the database
    assert _connection_of_a_request(client) is db.connection()


def test_a_connection_closed_during_a_request_is_dropped_at_its_end(app, client):
    app.config["KRU_KEEP_DB_CONNECTIONS"] = True

    def close_underneath():
        db.connection().close()
        return "closed"

    app.add_url_rule("/test-close-underneath", "close_underneath", close_underneath)
    assert client.get("/test-close-underneath").status_code == 200  # teardown did not raise
    assert db.is_closed()
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()["database"]) == (200, "ok")


HOLD_WRITE_LOCK = """
import sys, time
from edge_server.base.db import init_db
db = init_db(sys.argv[1])
with db.atomic("IMMEDIATE"):
    db.execute_sql("INSERT INTO t VALUES ('other process')")
    print("holding", flush=True)
    time.sleep(1.0)
db.close()
"""


def test_a_writer_waits_for_another_process_instead_of_failing_locked(tmp_path):
    import subprocess
    import sys

    from edge_server.base.db import init_db

    path = tmp_path / "site.sqlite3"
    handle = init_db(path, busy_timeout=100)  # far shorter than the other's transaction
    handle.execute_sql("CREATE TABLE t (who TEXT)")
    other = subprocess.Popen(  # our own interpreter
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout.readline().strip() == "holding"
        with handle.atomic("IMMEDIATE"):
            handle.execute_sql("INSERT INTO t VALUES ('this process')")
        rows = handle.execute_sql("SELECT who FROM t ORDER BY who").fetchall()
    finally:
        other.wait(timeout=10)
        other.stdout.close()
        handle.close()
    assert rows == [("other process",), ("this process",)]


def test_a_transaction_takes_the_write_lock_when_it_begins(tmp_path):
    """A transaction that reads, then writes, cannot fail on its write: BEGIN takes the lock.

    With a deferred BEGIN another process could write between the read and the write, and
    the write would fail with "database is locked" whatever the busy timeout.
    """
    import sqlite3

    from edge_server.accounts.models import Cohort
    from edge_server.base.datahome import DataHome
    from edge_server.base.db import db
    from edge_server.site import database as schema

    home = DataHome(tmp_path / "home").ensure()
    schema.upgrade(home)
    schema.open_database(home)
    other = sqlite3.connect(home.database, timeout=0, isolation_level=None)
    try:
        with db.atomic():
            Cohort.select().count()  # read first
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")  # another writer is kept out already
            Cohort.create(name="A")
        other.execute("BEGIN IMMEDIATE")  # and gets in once the transaction is over
        other.execute("INSERT INTO cohorts (uid, name, created_at) VALUES ('x', 'B', 'now')")
        other.execute("COMMIT")
        assert sorted(c.name for c in Cohort.select()) == ["A", "B"]
    finally:
        other.close()
        db.close()


def _fake_clock(monkeypatch) -> dict[str, float]:
    """Make db.py's clock a number that only its sleeps move forward."""
    from edge_server.base import db as dbmod

    clock = {"now": 0.0}
    monkeypatch.setattr(dbmod.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(dbmod.time, "sleep", lambda s: clock.__setitem__("now", clock["now"] + s))
    return clock


def test_opening_waits_out_a_lock_held_longer_than_a_few_seconds(tmp_path, monkeypatch):
    """CI on 3 Dec 2026: one of four processes migrating a new database at once gave up
    opening it ("database is locked" from a pragma) after 20 tries, about 4 s, while the
    others held the lock on a slow machine. Opening now waits as long as a writer would."""
    import peewee

    from edge_server.base import db as dbmod

    clock = _fake_clock(monkeypatch)
    real_connect = peewee.SqliteDatabase._connect
    answers = {"locked": 0}

    def locked_for_eight_seconds(self):
        if clock["now"] < 8.0:
            answers["locked"] += 1
            raise sqlite3.OperationalError("database is locked")  # as the driver raises it
        return real_connect(self)

    monkeypatch.setattr(peewee.SqliteDatabase, "_connect", locked_for_eight_seconds)
    site_db = dbmod.SiteDatabase(str(tmp_path / "kru.sqlite3"), pragmas=dbmod.PRAGMAS)
    assert site_db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert answers["locked"] > 20
    site_db.close()


def test_opening_gives_up_on_a_lock_that_never_ends(tmp_path, monkeypatch):
    import peewee

    from edge_server.base import db as dbmod

    clock = _fake_clock(monkeypatch)

    def always_locked(self):
        raise sqlite3.OperationalError("database is locked")  # as the driver raises it

    monkeypatch.setattr(peewee.SqliteDatabase, "_connect", always_locked)
    site_db = dbmod.SiteDatabase(str(tmp_path / "kru.sqlite3"), pragmas=dbmod.PRAGMAS)
    with pytest.raises(peewee.OperationalError, match="locked"):  # wrapped by connect()
        site_db.connect()
    assert dbmod.CONNECT_PATIENCE_S <= clock["now"] <= dbmod.CONNECT_PATIENCE_S + 1


def test_opening_waits_out_a_real_lock_on_a_new_database(tmp_path):
    """CI on 3 Dec 2026, again: the retry above never ran, because sqlite3 raises its own
    OperationalError while a connection opens (peewee wraps it only later, in connect()).
    Here a real connection holds a new database's lock, and the pragmas do not wait on it."""
    import threading

    from edge_server.base import db as dbmod

    path = tmp_path / "kru.sqlite3"
    holder = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.5, holder.execute, ("COMMIT",))
    release.start()
    site_db = dbmod.SiteDatabase(str(path), pragmas=dbmod.PRAGMAS, timeout=0)
    try:
        assert site_db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        release.join()
        holder.close()
        site_db.close()
