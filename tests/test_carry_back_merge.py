"""A rollback keeps the edits made after the switch (kru-carry-back merges edited rows).

Real SQLite databases made by Kru's own migrations, at a site's size (thousands of accounts,
submissions, attendance marks, SCORM states): the snapshot taken at the switch is the
restored database, the failed version's copy has the same rows edited after the switch
(submissions graded, passwords changed, attendance corrected, learners' SCORM progress
saved) plus rows that cannot merge. ``deploy/raspberrypi/bin/kru-carry-back`` runs as
kru-upgrade runs it; the restored database is read afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CARRY_BACK = ROOT / "deploy" / "raspberrypi" / "bin" / "kru-carry-back"
BEFORE, AFTER, CLOCK_BACK = "2026-11-30T08:00:00Z", "2026-12-01T09:30:00Z", "2026-11-01T00:00:00Z"
LEARNERS, SESSIONS, ITEMS = 2000, 4, 2


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        timeout=300,
    )


def carry_back(restored: Path, failed: Path) -> subprocess.CompletedProcess:
    return run(str(CARRY_BACK), str(restored), str(failed))


def rows(db: Path, query: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def content(db: Path) -> str:
    """Return a digest of every row of every table (the file's bytes may move; rows may not)."""
    con = sqlite3.connect(db)
    try:
        digest = hashlib.sha256()
        for line in con.iterdump():
            digest.update(line.encode())
        return digest.hexdigest()
    finally:
        con.close()


def write(db: Path, script: str, many: tuple[str, list[tuple]] | None = None) -> None:
    con = sqlite3.connect(db)
    try:
        con.executescript(script)
        if many:
            con.executemany(*many)
        con.commit()
    finally:
        con.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return (snapshot at the switch, failed version's copy), made once for the module."""
    data = tmp_path_factory.mktemp("site")
    done = run("-m", "edge_server.cli", "migrate", KRU_DATA_DIR=str(data))
    assert done.returncode == 0, done.stderr
    db = data / "kru.sqlite3"
    con = sqlite3.connect(db)
    users = [
        (i, f"uid-{i}", f"learner{i}", f"Learner {i}", "learner", "old-hash", BEFORE, BEFORE)
        for i in range(10, 10 + LEARNERS)
    ] + [(2, "uid-2", "teacher", "Teacher", "instructor", "old-hash", BEFORE, BEFORE)]
    con.executemany(
        "INSERT INTO users (id, uid, username, display_name, role, password_hash, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        users,
    )
    con.execute(
        f"INSERT INTO cohorts (id, uid, name, created_at) VALUES (1, 'c1', 'A', '{BEFORE}')"
    )
    con.executemany(
        "INSERT INTO f2f_sessions (id, uid, cohort_id, title, starts_at, code, created_at)"
        " VALUES (?, ?, 1, ?, ?, ?, ?)",
        [(s, f"s{s}", f"Week {s}", BEFORE, f"CODE{s}", BEFORE) for s in range(1, SESSIONS + 1)],
    )
    con.executemany(
        "INSERT INTO f2f_attendance (session_id, user_id, status, event_id, marked_at)"
        " VALUES (?, ?, 'absent', ?, ?)",
        [
            (s, u, f"att-{s}-{u}", BEFORE)
            for s in range(1, SESSIONS + 1)
            for u in range(10, 10 + LEARNERS // 2)
        ],
    )
    con.executemany(
        "INSERT INTO task_submissions (id, user_id, item, version, status, submitted_at)"
        " VALUES (?, ?, ?, 1, 'submitted', ?)",
        [
            (f"sub-{u}-{i}", u, f"course/task{i}", BEFORE)
            for u in range(10, 10 + LEARNERS)
            for i in range(ITEMS)
        ],
    )
    con.executemany(
        "INSERT INTO scorm_state (user_id, item, version, data, updated) VALUES (?, ?, '1', ?, ?)",
        [(u, "course/scorm", '{"location": "page1"}', BEFORE) for u in range(10, 10 + LEARNERS)],
    )
    con.commit()
    con.close()
    snapshot = data / "snapshot.sqlite3"
    shutil.copyfile(db, snapshot)

    # After the switch the failed version edited what teachers and learners did that day.
    write(
        db,
        f"""
        -- An instructor account made after the switch grades 1,000 submissions made before.
        INSERT INTO users (id, uid, username, display_name, role, password_hash, created_at,
                           updated_at)
            VALUES (3, 'uid-3', 'teacher2', 'New teacher', 'instructor', 'h', '{AFTER}',
                    '{AFTER}');
        UPDATE task_submissions SET status = 'accepted', reviewer_id = 3, reviewed_at = '{AFTER}',
               comment = 'Good work', points = 8, score = 0.8
            WHERE item = 'course/task0' AND user_id < {10 + LEARNERS // 2};
        -- 500 learners changed their password.
        UPDATE users SET password_hash = 'new-hash', updated_at = '{AFTER}'
            WHERE id BETWEEN 10 AND 509;
        -- Attendance of week 1 corrected: they were there.
        UPDATE f2f_attendance SET status = 'present', marked_at = '{AFTER}' WHERE session_id = 1;
        -- Every learner went on in the SCORM package (its state has no other copy).
        UPDATE scorm_state SET data = '{{"location": "page9"}}', updated = '{AFTER}';
        -- Two accounts swapped their user names: neither fits while the other holds it.
        UPDATE users SET username = 'swap', updated_at = '{AFTER}' WHERE id = 600;
        UPDATE users SET username = 'learner600', updated_at = '{AFTER}' WHERE id = 601;
        UPDATE users SET username = 'learner601' WHERE id = 600;
        -- The Pi's clock went back: this edit says it is older than the snapshot's row.
        UPDATE users SET display_name = 'Clock went back', updated_at = '{CLOCK_BACK}'
            WHERE id = 700;
        -- Submissions with a status the older schema does not know (its CHECK refuses it).
        PRAGMA ignore_check_constraints = ON;
        UPDATE task_submissions SET status = 'withdrawn', reviewed_at = '{AFTER}'
            WHERE id IN ('sub-1500-1', 'sub-1501-1');
        PRAGMA ignore_check_constraints = OFF;
        -- The newer schema records a voice note with two of the reviews: the older has no
        -- place for it, so those reviews merge without it (and say so).
        ALTER TABLE task_submissions ADD COLUMN voice_note TEXT;
        UPDATE task_submissions SET voice_note = 'note.ogg' WHERE id IN ('sub-10-0', 'sub-11-0');
        -- A submission handed to an account that is not in the restored database and does not
        -- come back (the failed copy lost it too): the merge would point at nothing.
        PRAGMA foreign_keys = OFF;
        UPDATE task_submissions SET reviewer_id = 99999, reviewed_at = '{AFTER}'
            WHERE id = 'sub-1600-1';
        """,
    )
    failed = data / "failed.sqlite3"
    shutil.copyfile(db, failed)
    return snapshot, failed


@pytest.fixture
def pair(site: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    restored, failed = tmp_path / "kru.sqlite3", tmp_path / "failed.sqlite3"
    shutil.copyfile(site[0], restored)
    shutil.copyfile(site[1], failed)
    return restored, failed


def test_edits_made_after_the_switch_survive_the_rollback(pair) -> None:
    restored, failed = pair
    done = carry_back(restored, failed)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    half = LEARNERS // 2
    assert rows(
        restored,
        "SELECT count(*) FROM task_submissions WHERE status = 'accepted' AND reviewer_id = 3"
        " AND comment = 'Good work' AND points = 8",
    ) == [(half,)]
    assert rows(restored, "SELECT username FROM users WHERE id = 3") == [("teacher2",)]
    assert rows(restored, "SELECT count(*) FROM users WHERE password_hash = 'new-hash'") == [(500,)]
    assert rows(restored, "SELECT count(*) FROM f2f_attendance WHERE status = 'present'") == [
        (half,)
    ]
    assert rows(restored, "SELECT DISTINCT data FROM scorm_state") == [('{"location": "page9"}',)]

    assert report["carried"] == {"users": 1}
    assert report["merged"] == {
        "f2f_attendance": half,
        "scorm_state": LEARNERS,
        "task_submissions": half,
        "users": 500,
    }
    left = {(n["table"], n["why"]): n["rows"] for n in report["not_carried"]}
    assert left == {
        ("users", "conflict"): 2,  # the swapped user names
        ("users", "older"): 1,  # the clock went back
        ("task_submissions", "conflict"): 2,  # "withdrawn": the older CHECK refuses it
        ("task_submissions", "changed_parent"): 1,  # reviewer 99999 is nowhere
        ("task_submissions", "columns"): 2,  # merged without the voice notes
    }
    assert [n["columns"] for n in report["not_carried"] if n["why"] == "columns"] == [
        ["voice_note"]
    ]
    # What did not merge is as it was at the switch.
    assert rows(restored, "SELECT username FROM users WHERE id IN (600, 601) ORDER BY id") == [
        ("learner600",),
        ("learner601",),
    ]
    assert rows(restored, "SELECT display_name FROM users WHERE id = 700") == [("Learner 700",)]
    assert rows(
        restored, "SELECT status, reviewer_id FROM task_submissions WHERE id = 'sub-1600-1'"
    ) == [("submitted", None)]
    assert rows(restored, "PRAGMA foreign_key_check") == []
    assert rows(restored, "PRAGMA integrity_check") == [("ok",)]

    # Run again (a power cut during the rollback restores the snapshot once more): the same.
    again = carry_back(restored, failed)
    assert json.loads(again.stdout)["merged"] == {}


@pytest.mark.parametrize(
    ("action", "said"),
    [
        ("SELECT RAISE(ROLLBACK, 'disk I/O error (simulated)')", "disk I/O error (simulated)"),
        ("INSERT INTO no_such_table VALUES (1)", "no such table"),
    ],
)
def test_a_failure_half_way_leaves_the_restored_database_as_it_was(pair, action, said) -> None:
    restored, failed = pair
    # The restored database fails late in the work (a trigger, as a full disk or a damaged
    # page would): by then attendance, SCORM states and submissions have been merged in the
    # same transaction; the accounts come last.
    write(
        restored,
        f"CREATE TRIGGER refuse BEFORE UPDATE ON users WHEN NEW.id = 400 BEGIN {action}; END;",
    )
    before = content(restored)
    done = carry_back(restored, failed)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("kru-carry-back: nothing carried back:"), done.stderr
    assert said in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert content(restored) == before
    assert rows(restored, "SELECT count(*) FROM users WHERE password_hash = 'new-hash'") == [(0,)]


def test_a_table_with_a_numeric_time_and_one_without_a_time(tmp_path: Path) -> None:
    """``modified`` as seconds (a missing one is older than any), and a table with no time:
    the snapshot's rule, the failed copy's row wins."""
    restored, failed = tmp_path / "kru.sqlite3", tmp_path / "failed.sqlite3"
    write(
        restored,
        """
        CREATE TABLE site_notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, modified REAL);
        INSERT INTO site_notes VALUES (1, 'a', NULL), (2, 'b', 200), (3, 'c', 100);
        CREATE TABLE shelf (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
        INSERT INTO shelf VALUES (1, 'old');
        """,
    )
    shutil.copyfile(restored, failed)
    write(
        failed,
        """
        UPDATE site_notes SET body = 'a2', modified = 150 WHERE id = 1;
        UPDATE site_notes SET body = 'b2', modified = 100 WHERE id = 2;  -- clock went back
        UPDATE site_notes SET body = 'c2', modified = 300 WHERE id = 3;
        UPDATE shelf SET label = 'new';
        """,
    )
    done = carry_back(restored, failed)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert rows(restored, "SELECT body FROM site_notes ORDER BY id") == [("a2",), ("b",), ("c2",)]
    assert rows(restored, "SELECT label FROM shelf") == [("new",)]
    assert report["merged"] == {"shelf": 1, "site_notes": 2}
    assert report["not_carried"] == [{"table": "site_notes", "rows": 1, "why": "older"}]
