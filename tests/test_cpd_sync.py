"""Attendance (and later certificates) reach a real central server through the sync protocol
(issue 16): one event per mark, each stored once, no catalog row for a session."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

from tests.sync_support import add_events, make_site, run_agent


def _mark_everyone(site, statuses):
    from edge_server.accounts.models import Cohort, User
    from edge_server.cpd import attendance

    db = site.open()
    try:
        cohort = Cohort.get(Cohort.name == "Cohort A")
        s = attendance.schedule(
            cohort,
            title="ការអានជាក្រុម",
            local_start="2026-03-02T08:00",
            tz=attendance.zone("Asia/Phnom_Penh"),
        )
        learners = list(User.select().where(User.role == "learner").order_by(User.id))
        for learner, status in zip(learners, statuses, strict=False):
            attendance.mark(s, learner, status, by=None)
        return s.uid
    finally:
        db.close()


def test_attendance_events_sync_to_central_once(tmp_path, central):
    site = make_site(tmp_path, "tec-att")
    central.provision(site)
    add_events(site, 6)
    session_uid = _mark_everyone(site, ["present", "late", "absent"])
    assert run_agent(site, "").returncode == 0
    second = _mark_everyone(site, ["excused"])  # a second session, after the first sync
    assert run_agent(site, "").returncode == 0
    with closing(sqlite3.connect(central.data_dir / "central.sqlite3")) as con:
        rows = con.execute(
            "SELECT user_uid, object, result, context FROM central_events "
            "WHERE verb = 'attended' ORDER BY seq"
        ).fetchall()
        urn_items = con.execute(
            "SELECT COUNT(*) FROM catalog_items WHERE key LIKE 'urn:%'"
        ).fetchone()[0]
    assert [r[1] for r in rows] == [f"urn:kru:session:{session_uid}"] * 3 + [
        f"urn:kru:session:{second}"
    ]
    assert [json.loads(r[2])["response"] for r in rows] == ["present", "late", "absent", "excused"]
    assert json.loads(rows[0][3])["title"] == "ការអានជាក្រុម"
    assert urn_items == 0
