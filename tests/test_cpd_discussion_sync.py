"""Discussion posts reach a real central server as one event each, without their text unless
the pack marks the course's discussion for review; central counts participation (issue 16)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import requests

from tests.sync_support import add_events, make_site, run_agent
from tests.test_cpd_certificates_central import _signed_in

COURSE = "pack1/course1"


def _discuss(site, *, review: bool) -> tuple[str, list[str]]:
    from edge_server.accounts.models import Cohort, User
    from edge_server.cpd import discussion
    from edge_server.learning import assignments

    db = site.open()
    try:
        if review:
            db.execute_sql(
                "UPDATE packs SET manifest = ?",
                (json.dumps({"courses": [{"slug": "c", "discussion": {"review": True}}]}),),
            )
        cohort = Cohort.get(Cohort.name == "Cohort A")
        assignments.assign(cohort, COURSE, None, None)
        learners = list(User.select().where(User.role == "learner").order_by(User.id))
        thread = discussion.start_thread(learners[0], cohort, COURSE, "សំណួរ", "អត្ថបទសម្ងាត់")
        replies = [discussion.reply(p, thread, f"ចម្លើយ {i}") for i, p in enumerate(learners[1:3])]
        return cohort.uid, [thread.event_id] + [r.event_id for r in replies]
    finally:
        db.close()


def _posted(central) -> list[tuple]:
    with closing(sqlite3.connect(central.data_dir / "central.sqlite3")) as con:
        return con.execute(
            "SELECT event_id, object, context FROM central_events WHERE verb = 'posted' "
            "ORDER BY seq"
        ).fetchall()


def test_posts_sync_once_without_text_and_central_counts_them(tmp_path, central):
    site = make_site(tmp_path, "tec-talk")
    central.provision(site)
    add_events(site, 6)
    cohort_uid, ids = _discuss(site, review=False)
    assert run_agent(site, "").returncode == 0
    assert run_agent(site, "").returncode == 0  # nothing new: nothing stored twice
    rows = _posted(central)
    assert [r[0] for r in rows] == ids
    assert {r[1] for r in rows} == {f"urn:kru:discussion:{COURSE}:{cohort_uid}"}
    assert all("អត្ថបទ" not in r[2] and "ចម្លើយ" not in r[2] for r in rows)
    with closing(sqlite3.connect(central.data_dir / "central.sqlite3")) as con:
        assert (
            con.execute("SELECT COUNT(*) FROM catalog_items WHERE key LIKE 'urn:%'").fetchone()[0]
            == 0
        )
    viewer = _signed_in(central, "viewer")
    page = viewer.get(f"{central.url}/discussion", timeout=10).content.decode("utf-8")
    row = page.split('id="participation"')[1]
    assert "tec-talk" in row and "Cohort A" in row and COURSE in row
    assert "<td>1</td><td>2</td><td>3</td>" in row  # threads, replies, people
    anonymous = requests.get(f"{central.url}/discussion", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 302


def test_the_text_travels_when_the_course_is_reviewed(tmp_path, central):
    site = make_site(tmp_path, "tec-review")
    central.provision(site)
    add_events(site, 6)
    _discuss(site, review=True)
    assert run_agent(site, "").returncode == 0
    texts = [json.loads(r[2]).get("text") for r in _posted(central)]
    assert texts == ["អត្ថបទសម្ងាត់", "ចម្លើយ 0", "ចម្លើយ 1"]
