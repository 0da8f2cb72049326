"""Database snapshots: consistent under a real write load, kept by the rules, restored by name."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from edge_server import accounts
from edge_server.base import snapshots
from edge_server.base.datahome import DataHome
from edge_server.base.db import db
from edge_server.base.errors import Conflict
from edge_server.base.integrity import Intact, quick_check
from edge_server.base.pidlock import PidLock
from edge_server.learning import events
from tests.conftest import PASSWORD
from tests.learning_catalog import LESSON, ev, make_catalog
from tests.test_integrity import damage_table

BATCH = 5


def _count(path, sql: str, *args: object) -> int:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        return con.execute(sql, args).fetchone()[0]


def test_a_snapshot_taken_during_a_write_load_is_one_point_in_time(app, data_dir):
    make_catalog(open_course=True)
    writers = [accounts.create_user(f"writer{i}", PASSWORD) for i in range(4)]
    home = DataHome(data_dir)
    stop = threading.Event()
    sent: dict[int, list[str]] = {u.id: [] for u in writers}
    errors: list[BaseException] = []

    def write(user) -> None:
        db.connect(reuse_if_open=True)
        try:
            while not stop.is_set():
                batch = [ev("viewed", LESSON) for _ in range(BATCH)]
                events.ingest(user, events.validate_batch({"events": batch}))
                sent[user.id] += [e["id"] for e in batch]
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=write, args=(u,)) for u in writers]
    for t in threads:
        t.start()
    taken = []
    try:
        while len(taken) < 3:
            if sum(map(len, sent.values())) >= 40 * (len(taken) + 1):
                taken.append(snapshots.take(home))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    total = sum(map(len, sent.values()))
    for snap in taken:
        assert isinstance(quick_check(snap.path), Intact)
        assert snapshots.verify(snap)
        in_snapshot = 0
        for user in writers:
            with closing(sqlite3.connect(snap.path)) as con:
                rows = con.execute(
                    "SELECT id FROM events WHERE user_id = ? ORDER BY seq", (user.id,)
                )
                ids = [r[0] for r in rows]
                summaries = con.execute(
                    "SELECT count(*) FROM progress WHERE user_id = ?", (user.id,)
                ).fetchone()[0]
            # Each writer's batches are whole and in order: the first k of what it sent.
            assert len(ids) % BATCH == 0
            assert ids == sent[user.id][: len(ids)]
            assert summaries == (1 if ids else 0)  # written in the same transaction
            in_snapshot += len(ids)
        assert 0 < in_snapshot < total or snap is taken[-1]
    assert _count(home.database, "SELECT count(*) FROM events") == total


def test_a_damaged_database_gives_no_snapshot(app, data_dir):
    accounts.create_user("someone", PASSWORD)
    db.close()
    home = DataHome(data_dir)
    damage_table(home.database)
    with pytest.raises(snapshots.BadSnapshot):
        snapshots.take(home)
    assert snapshots.list_snapshots(home) == []
    assert [p.name for p in snapshots.directory(home).iterdir()] == [".lock"]


def test_only_one_snapshot_at_a_time(app, data_dir):
    home = DataHome(data_dir)
    with snapshots._exclusive(home), pytest.raises(snapshots.SnapshotBusy):
        snapshots.take(home)


def test_retention_keeps_the_newest_hourly_and_one_a_day(app, data_dir):
    home = DataHome(data_dir)
    start = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    for hour in range(0, 24 * 10, 6):  # four a day for ten days
        snapshots.take(home, now=start + timedelta(hours=hour))
    gone = snapshots.prune(home, keep_hourly=5, keep_daily=3)
    kept = snapshots.list_snapshots(home)
    stamps = [s.taken_at for s in kept]
    newest = start + timedelta(hours=234)
    assert stamps[:5] == [newest - timedelta(hours=6 * i) for i in range(5)]
    days = {s.strftime("%d") for s in stamps}
    assert days == {"10", "09", "08"}
    assert len(kept) == 5 + 1  # day 08's newest is outside the newest five
    assert len(gone) == 40 - len(kept)
    assert all(s.checksum_file.exists() for s in kept)
    assert not any(s.checksum_file.exists() for s in gone)


def test_scheduler_snapshots_only_when_something_changed(app, data_dir):
    home = DataHome(data_dir)
    scheduler = snapshots.Scheduler(home, interval_s=0, keep_hourly=24, keep_daily=7)
    try:
        first = scheduler.run_once()
        assert first is not None  # no snapshot yet
        assert scheduler.run_once() is None  # nothing written since
        accounts.create_user("newcomer", PASSWORD)
        second = scheduler.run_once()
        assert second is not None and second.name != first.name
        assert _count(second.path, "SELECT count(*) FROM users WHERE username='newcomer'") == 1
    finally:
        scheduler.stop()
    # After a restart, an unchanged database is recognised from the newest snapshot.
    again = snapshots.Scheduler(home, interval_s=0, keep_hourly=24, keep_daily=7)
    try:
        assert again.run_once() is None
    finally:
        again.stop()


def test_cli_take_list_and_restore_latest(app, data_dir, runner):
    accounts.create_user("before", PASSWORD)
    db.close()
    made = runner("snapshot", "take")
    assert made.exit_code == 0, made.output
    listed = runner("snapshot", "list")
    assert listed.output.count("kru-") == 1
    db.connect(reuse_if_open=True)
    accounts.create_user("after", PASSWORD)
    db.close()
    home = DataHome(data_dir)
    lock = PidLock.acquire(home.pid_file)
    try:
        refused = runner("snapshot", "restore", "latest")
    finally:
        lock.release()
    assert refused.exit_code == 1
    assert "running" in refused.output
    assert _count(home.database, "SELECT count(*) FROM users WHERE username='after'") == 1
    done = runner("snapshot", "restore", "latest")
    assert done.exit_code == 0, done.output
    assert _count(home.database, "SELECT count(*) FROM users WHERE username='after'") == 0
    kept = list((data_dir / "backups").glob("before-restore-*/kru.sqlite3"))
    assert len(kept) == 1
    assert _count(kept[0], "SELECT count(*) FROM users WHERE username='after'") == 1


def test_restore_refuses_a_snapshot_that_fails_its_checksum(app, data_dir, runner):
    home = DataHome(data_dir)
    snap = snapshots.take(home)
    db.close()
    with open(snap.path, "r+b") as fh:
        fh.seek(200)
        fh.write(b"\xff\xfe")
    before = home.database.read_bytes()
    result = runner("snapshot", "restore", snap.name)
    assert result.exit_code == 1
    assert "checksum" in result.output
    assert home.database.read_bytes() == before


def test_cli_restore_of_an_unknown_name(runner):
    result = runner("snapshot", "restore", "kru-nope")
    assert result.exit_code == 1
    assert "no snapshot kru-nope" in result.output


def test_restore_refuses_while_the_server_runs_as_a_library_error(app, data_dir):
    home = DataHome(data_dir)
    snap = snapshots.take(home)
    lock = PidLock.acquire(home.pid_file)
    try:
        with pytest.raises(Conflict):
            snapshots.restore(home, snap)
    finally:
        lock.release()
