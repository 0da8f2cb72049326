"""A failed upgrade's rows come back (issue 20): kru-upgrade's rollback path, for real.

The site database is made by Kru's own migrations; the snapshot is taken and restored with
``kru snapshot``; the failed version's copy (``backups/failed-upgrade-*.sqlite3``) gets rows
in every kind of table a site writes (accounts, events, task submissions, attendance,
discussion posts and replies, certificates, cohort members, drafts) plus what a newer schema
brings (a new table, a new column). ``deploy/raspberrypi/bin/kru-upgrade --resume`` then
rolls back exactly as after a power cut during a rollback: restore, ``kru-carry-back``,
``kru progress rebuild``, state.json. The chroot test (test_deploy_upgrade) runs the whole
upgrade as root; this one runs the same rollback on this machine in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "deploy" / "raspberrypi" / "bin"
NOW = "2026-12-02T10:00:00Z"


def kru(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge_server.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "KRU_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def sql(db: Path, script: str) -> None:
    con = sqlite3.connect(db)
    try:
        con.executescript(script)
        con.commit()
    finally:
        con.close()


def rows(db: Path, query: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


USER = (
    "INSERT INTO users (id, uid, username, display_name, role, password_hash, created_at,"
    " updated_at) VALUES ({id}, 'uid-{name}', '{name}', '{name}', '{role}', 'x', '{t}', '{t}');"
)


def event(eid: str, user: int) -> str:
    return (
        "INSERT INTO events (id, user_id, verb, object, server_ts, boot_id) VALUES "
        f"('{eid}', {user}, 'experienced', 'intro/lesson', '{NOW}', 'test');"
    )


BEFORE = (
    USER.format(id=1, name="learner1", role="learner", t=NOW)
    + USER.format(id=2, name="teacher1", role="instructor", t=NOW)
    + USER.format(id=9, name="clash", role="learner", t=NOW)
    + event("before-the-upgrade", 1)
    + f"""
    INSERT INTO cohorts (id, uid, name, created_at) VALUES (1, 'c1', 'Class A', '{NOW}');
    INSERT INTO cohort_members (cohort_id, user_id) VALUES (1, 1);
    INSERT INTO f2f_sessions (id, uid, cohort_id, title, starts_at, code, created_at)
        VALUES (1, 's1', 1, 'Week 1', '{NOW}', 'ABC123', '{NOW}');
    """
)

# What the failed version recorded after the switch, in its copy of the database.
AFTER = (
    USER.format(id=3, name="learner2", role="learner", t=NOW)
    # An account whose user name the restored database holds under another id (the failed
    # version renamed that one): the rename is merged first, so it comes back with its rows.
    + "UPDATE users SET username = 'renamed' WHERE id = 9;"
    + USER.format(id=4, name="clash", role="learner", t=NOW).replace("uid-clash", "uid-new")
    + event("after-the-switch", 1)
    + event("after-the-switch-by-a-new-account", 3)
    + event("by-the-clashing-account", 4)
    + f"""
    INSERT INTO cohort_members (cohort_id, user_id) VALUES (1, 3);
    INSERT INTO task_submissions (id, user_id, item, version, status, submitted_at)
        VALUES ('sub-1', 3, 'course/task1', 1, 'submitted', '{NOW}'),
               ('sub-clash', 4, 'course/task1', 1, 'submitted', '{NOW}');
    INSERT INTO f2f_attendance (session_id, user_id, status, event_id, marked_at)
        VALUES (1, 3, 'present', 'att-1', '{NOW}');
    INSERT INTO discussion_posts (id, uid, cohort_id, course, thread_id, user_id, title, source,
                                  body, event_id, created_at)
        VALUES (1, 'p1', 1, 'course', NULL, 3, 'Question', 'q', '<p>q</p>', 'ev-p1', '{NOW}'),
               (2, 'p2', 1, 'course', 1, 2, '', 'a', '<p>a</p>', 'ev-p2', '{NOW}');
    INSERT INTO certificates (id, event_id, code, user_id, course, record, signature, issued_at)
        VALUES (1, 'ev-cert', 'KRU-0001', 3, 'course', '{{}}', 'sig', '{NOW}');
    INSERT INTO packs (id, pack_id, version, title_km, title_en, manifest_sha256, manifest,
                       installed_at)
        VALUES (1, 'new-pack', '1.0.0', 'ក', 'A', '{"0" * 64}', '{{}}', '{NOW}');
    UPDATE users SET display_name = 'Learner One (renamed)' WHERE id = 1;
    -- The new version's schema: a new table and a new column.
    CREATE TABLE upgrade_probe (id INTEGER PRIMARY KEY, note TEXT);
    INSERT INTO upgrade_probe (note) VALUES ('a'), ('b');
    INSERT INTO quiz_answers (event_id, user_id, item, attempt, question, response, correct)
        VALUES ('after-the-switch-by-a-new-account', 3, 'course/quiz', 1, 'q1', '"a"', 1);
    ALTER TABLE scorm_state RENAME COLUMN updated TO updated_at;
    INSERT INTO scorm_state (user_id, item, version, data, updated_at)
        VALUES (3, 'course/scorm', '1', '{{}}', '{NOW}');
    ALTER TABLE task_submissions ADD COLUMN draft_of TEXT;
    UPDATE task_submissions SET draft_of = 'older' WHERE id = 'sub-1';
    """
)


@pytest.fixture
def pi(tmp_path: Path) -> dict[str, Path]:
    """A Pi laid out as kru-upgrade sees it, mid-rollback: /opt/kru with releases, the data
    directory with the snapshot taken before the switch and the failed version's copy."""
    prefix, data, conf = tmp_path / "opt-kru", tmp_path / "var-lib-kru", tmp_path / "etc-kru"
    for folder in (prefix / "releases" / "0.1.0", prefix / "releases" / "0.2.0", conf):
        folder.mkdir(parents=True)
    (conf / "kru.toml").write_text("")
    (prefix / "current").symlink_to("releases/0.2.0")
    venv_bin = prefix / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "kru").write_text(
        f'#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m edge_server.cli "$@"\n'
    )
    (venv_bin / "kru").chmod(0o755)
    (prefix / "bin").mkdir()
    for name in ("kru-upgrade", "kru-carry-back"):
        shutil.copy2(BIN / name, prefix / "bin" / name)
    migrated = kru(data, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    db = data / "kru.sqlite3"
    sql(db, BEFORE)
    taken = kru(data, "snapshot", "take")
    assert taken.returncode == 0, taken.stderr
    snap = Path(taken.stdout.strip().splitlines()[-1])
    assert snap.is_file()
    sql(db, AFTER)  # the failed version ran on the live database
    (data / "backups").mkdir()
    failed = data / "backups" / "failed-upgrade-0.2.0-20261202T100000Z.sqlite3"
    shutil.copyfile(db, failed)
    (data / "releases").mkdir()
    state = {
        "state": "pending",
        "version": "0.2.0",
        "sha256": "0" * 64,
        "code": "health_failed",
        "reason": "Kru 0.2.0 did not answer /healthz within 180 s",
        "from": "0.1.0",
        "snapshot": str(snap),
        "phase": "rolling_back",
        "failed_db": str(failed),
    }
    (data / "releases" / "state.json").write_text(json.dumps(state))
    return {"prefix": prefix, "data": data, "conf": conf, "db": db, "failed": failed, "snap": snap}


def roll_back(pi: dict[str, Path]) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"],
        "KRU_UPGRADE_PREFIX": str(pi["prefix"]),
        "KRU_UPGRADE_DATA": str(pi["data"]),
        "KRU_UPGRADE_CONF": str(pi["conf"]),
        "KRU_UPGRADE_USER": "root",
        "KRU_UPGRADE_CTL": "true",
    }
    return subprocess.run(
        ["bash", str(pi["prefix"] / "bin" / "kru-upgrade"), "--resume"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="kru-upgrade runs as root (runuser)")
def test_a_rollback_carries_back_every_table_of_user_data_and_lists_what_it_cannot(pi) -> None:
    db = pi["db"]
    done = roll_back(pi)
    log = done.stdout + done.stderr
    assert done.returncode == 1, log  # a rollback exits 1
    assert os.readlink(pi["prefix"] / "current") == "releases/0.1.0"
    assert "upgrade_probe" not in {r[0] for r in rows(db, "SELECT name FROM sqlite_master")}

    # Events: the new ones after the restored one, new sequence numbers, UUIDs kept.
    assert [r[0] for r in rows(db, "SELECT id FROM events ORDER BY seq")] == [
        "before-the-upgrade",
        "after-the-switch",
        "after-the-switch-by-a-new-account",
        "by-the-clashing-account",
    ]
    # Every other table of user data: the rows written after the switch are back.
    assert rows(db, "SELECT id, user_id FROM task_submissions ORDER BY id") == [
        ("sub-1", 3),
        ("sub-clash", 4),
    ]
    assert rows(db, "SELECT session_id, user_id, status FROM f2f_attendance") == [(1, 3, "present")]
    assert rows(db, "SELECT id, thread_id FROM discussion_posts ORDER BY id") == [
        (1, None),
        (2, 1),
    ]
    assert rows(db, "SELECT code, user_id FROM certificates") == [("KRU-0001", 3)]
    assert rows(db, "SELECT user_id FROM cohort_members ORDER BY user_id") == [(1,), (3,)]
    assert rows(db, "SELECT id, username FROM users WHERE id > 2 ORDER BY id") == [
        (3, "learner2"),
        (4, "clash"),
        (9, "renamed"),
    ]
    # Edited after the switch: merged (issue: a rollback lost teachers' and learners' work).
    assert rows(db, "SELECT display_name FROM users WHERE id = 1") == [("Learner One (renamed)",)]
    assert rows(db, "SELECT count(*) FROM packs") == [(0,)]  # content: installed again

    state = json.loads((pi["data"] / "releases" / "state.json").read_text())
    assert state["state"] == "failed" and state["code"] == "health_failed"
    assert "3 events recorded after the switch carried back" in state["reason"]
    assert ", 1 not" not in state["reason"]
    assert state["carried_back"]["task_submissions"] == 2
    assert state["merged_back"] == {"users": 2}
    assert "2 users edited after the switch merged" in state["reason"]
    assert state["carried_back"]["f2f_attendance"] == 1
    assert state["carried_back"]["discussion_posts"] == 2
    assert state["carried_back"]["certificates"] == 1
    assert state["failed_db"] == str(pi["failed"])
    left = {(n["table"], n["why"]): n["rows"] for n in state["not_carried"]}
    assert left[("upgrade_probe", "new_table")] == 2
    assert left[("packs", "content")] == 1
    assert left[("task_submissions", "columns")] == 1
    assert left[("scorm_state", "shape")] == 1  # the older table needs "updated"
    assert state["carried_back"]["quiz_answers"] == 1
    assert not {key for key in left if key[1] in ("parent", "changed")}
    assert "NOT carried back, kept in" in state["reason"]
    # The log names each table left out.
    assert f"not carried back, kept in {pi['failed']}: upgrade_probe: 2 rows" in done.stdout
    assert pi["failed"].is_file()  # kept

    # A power cut during the rollback: it runs again from the same copy, and nothing doubles.
    state.update(
        state="pending", phase="rolling_back", snapshot=str(pi["snap"]), **{"from": "0.1.0"}
    )
    (pi["data"] / "releases" / "state.json").write_text(json.dumps(state))
    (pi["prefix"] / "current").unlink()
    (pi["prefix"] / "current").symlink_to("releases/0.2.0")
    (pi["prefix"] / "releases" / "0.2.0").mkdir()
    again = roll_back(pi)
    assert again.returncode == 1, again.stdout + again.stderr
    assert rows(db, "SELECT count(*) FROM events") == [(4,)]
    assert rows(db, "SELECT count(*) FROM discussion_posts") == [(2,)]


@pytest.mark.skipif(os.geteuid() != 0, reason="kru-upgrade runs as root (runuser)")
def test_a_carry_back_that_cannot_read_the_failed_copy_changes_nothing_and_says_so(pi) -> None:
    pi["failed"].write_bytes(b"not a database" * 100)
    done = roll_back(pi)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "kru-carry-back: nothing carried back" in done.stderr
    state = json.loads((pi["data"] / "releases" / "state.json").read_text())
    assert "(carrying them back failed)" in state["reason"] and str(pi["failed"]) in state["reason"]
    assert "not_carried" not in state
    # The restored database is the snapshot, whole.
    assert rows(pi["db"], "SELECT id FROM events") == [("before-the-upgrade",)]
    assert rows(pi["db"], "PRAGMA integrity_check") == [("ok",)]
