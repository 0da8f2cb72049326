"""The ministry's drill-down (issue 21 item 3) on real sites and a real PostgreSQL: a term of
learning at three sites in two provinces (60 student teachers, class lists with national
teacher ids, lessons with time, quizzes, face-to-face sessions), synced by the sites' own
batch code; the dashboard's numbers equal the export's and the sites' own.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sync.central import registry
from sync.central.db import database
from sync.central.ingest import ingest_batch
from sync.provisioning import new_device_id
from tests.central_support import sign_in
from tests.packs_factory import build_pack, lesson, quiz
from tests.sync_support import Site, make_site

pytestmark = pytest.mark.postgres

PER_SITE = 20
SITES = (  # (name, province)
    ("TEC Kandal", "កណ្ដាល"),
    ("TEC Takeo", "តាកែវ"),
    ("CTC Takeo", "តាកែវ"),
)
RIGHT = {"q1": "yes", "q2": True}
WRONG = {"q1": "no", "q2": False}
MOVER = "NT-2026-0007"  # the student teacher who moves from TEC Kandal to CTC Takeo


@dataclass
class Term:
    sites: list[tuple[str, str, str, Site]]  # (device id, name, province, site)
    course: str
    # The site's own numbers per (device id, learner uid): its dashboard's figures.
    numbers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    cohorts: dict[str, str] = field(default_factory=dict)  # device id -> cohort uid
    events: int = 0


def _class_list(site_no: int) -> bytes:
    lines = ["username,display_name,cohort,national_id"]
    for n in range(PER_SITE):
        nid = MOVER if (site_no, n) in ((0, 7), (2, 0)) else f"NT-{site_no}-{n:03d}"
        lines.append(f"st{site_no}-{n},សិស្សគ្រូ {site_no}-{n},ជំនាន់ ២០២៦,{nid}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _phone(user, verb: str, item: str, result: dict) -> None:
    from edge_server.learning import events

    event = {
        "id": str(uuid.uuid4()),
        "verb": verb,
        "object": item,
        "result": result,
        "timestamp": "2026-10-15T08:00:00+07:00",
    }
    events.ingest_body(user, {"events": [event]})


def _learn(site: Site, site_no: int, zip_path: Path) -> str:
    """Install the pack, import the class list, and play a term; return the course key."""
    from content_packs.install import install_pack
    from edge_server.accounts import get_cohort, get_user, roster
    from edge_server.base.db import db
    from edge_server.cpd import attendance

    rng = random.Random(2026 + site_no)
    site.open()
    try:
        install_pack(zip_path, site.settings, site.home)
        roster.import_roster(_class_list(site_no))
        (course,) = [k for (k,) in db.execute_sql("SELECT key FROM courses").fetchall()]
        pack = course.split("/")[0]
        cohort = get_cohort(name="ជំនាន់ ២០២៦")
        sessions = [
            attendance.schedule(
                cohort,
                title=f"ថ្នាក់ទី {w}",
                local_start=f"2026-10-{5 + 7 * w:02d}T08:00",
                tz=attendance.zone("Asia/Phnom_Penh"),
                course=course,
            )
            for w in range(3)
        ]
        for n in range(PER_SITE):
            user = get_user(username=f"st{site_no}-{n}")
            if n % 10 == 9:
                continue  # a tenth never start
            for step in range(rng.randint(12, 40)):  # a term of reading: visits with time
                item = f"{pack}/lesson-{1 + step % 2}"
                seconds = rng.choice([45, 120, 300, 900, 1800, 5400])  # 5400: capped at 3600
                _phone(user, "progressed", item, {"duration_s": seconds, "completion": 0.4})
            if n % 3 != 2:
                _phone(user, "completed", f"{pack}/lesson-1", {"duration_s": 60})
            if n % 2 == 0:
                _phone(user, "completed", f"{pack}/lesson-2", {"duration_s": 75.4})
            if n % 4 == 1:  # fails first, then passes
                _attempt(user, f"{pack}/quiz-1", WRONG)
            if n % 4 in (0, 1):
                _attempt(user, f"{pack}/quiz-1", RIGHT)
            elif n % 4 == 2:
                _attempt(user, f"{pack}/quiz-1", {"q1": "yes", "q2": False})
            for s_no, session in enumerate(sessions):
                mark = ("present", "late", "absent", "excused")[(n + s_no) % 4]
                attendance.mark(session, user, mark, by=None)
        return course
    finally:
        db.close()


def _attempt(user, item: str, response: dict) -> None:
    from edge_server.learning import events

    events.submit_attempt(user, item, str(uuid.uuid4()), response)


def _site_numbers(site: Site, device_id: str, course: str, term: Term) -> None:
    """Read the site's own figures: its cohort dashboard and its attendance shares."""
    from edge_server.accounts import get_cohort
    from edge_server.base.db import db
    from edge_server.cpd import attendance
    from edge_server.learning import dashboard

    site.open()
    try:
        cohort = get_cohort(name="ជំនាន់ ២០២៦")
        term.cohorts[device_id] = cohort.uid
        matrix = dashboard.cohort_matrix(cohort, "km")
        shares = attendance.cohort_shares(cohort)
        uids = dict(db.execute_sql("SELECT id, uid FROM users").fetchall())
        for row in matrix.rows:
            done, total = row.courses.get(course, (0, 0))
            scores = [c.score for c in row.cells if c.score is not None]
            share = shares[row.user_id].fraction if row.user_id in shares else None
            term.numbers[(device_id, uids[row.user_id])] = {
                "started": row.started,
                "done": done,
                "total": total,
                "time_s": row.time_s,
                "average_score": sum(scores) / len(scores) if scores else None,
                "attendance": share,
            }
        term.events += db.execute_sql("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        db.close()


@pytest.fixture(scope="module")
def term(tmp_path_factory) -> Term:
    root = tmp_path_factory.mktemp("drilldown")
    zip_path = build_pack(
        root, "teach-reading", items=[lesson("lesson-1"), lesson("lesson-2"), quiz("quiz-1")]
    )
    sites = []
    course = ""
    for n, (name, province) in enumerate(SITES):
        site = make_site(root, f"site{n}")
        course = _learn(site, n, zip_path)
        sites.append((new_device_id(), name, province, site))
    built = Term(sites, course)
    for device_id, _name, _province, site in sites:
        _site_numbers(site, device_id, course, built)
    return built


def _sync(term: Term) -> None:
    """Send every site's log to central with the site's own batch code, 500 events a batch."""
    from edge_server.base.db import db
    from sync.edge.batches import read_batch

    for device_id, name, province, site in term.sites:
        device = registry.add_device(name, "http://central", province, device_id).device
        site.open()
        try:
            after = 0
            while True:
                batch = read_batch(
                    db,
                    device_id=device_id,
                    after=after,
                    limit=500,
                    clock_ms=int(time.time() * 1000),
                )
                if batch is None:
                    break
                ingest_batch(database, device, batch)
                after = batch.last
        finally:
            db.close()


@pytest.fixture
def fleet(pg_url, term, make_central_app):
    app = make_central_app(**{"central.database_url": pg_url, "central.xapi_names": True})
    _sync(term)
    client = app.test_client()
    sign_in(client, "admin")
    return client


def _export(client, **query) -> list[dict[str, str]]:
    response = client.get("/export/learners.csv", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


KHMER = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")  # the pages are in Khmer by default


def _pct(value: float | None) -> str:
    return "" if value is None else str(round(100 * value, 1))


def test_the_term_is_realistic(term):
    assert len(term.numbers) == 3 * PER_SITE
    assert term.events > 1500  # a term: visits, decisions, attempts, attendance marks
    started = [n for n in term.numbers.values() if n["started"]]
    assert len(started) == 3 * (PER_SITE - PER_SITE // 10)


def test_the_learners_export_equals_the_sites_own_numbers(fleet, term):
    rows = {(r["device_id"], r["learner_uid"]): r for r in _export(fleet)}
    assert len(rows) == 3 * PER_SITE
    for key, site in term.numbers.items():
        row = rows[key]
        assert int(row["time_s"]) == site["time_s"], key
        if site["started"]:
            assert row["courses_started"] == "1"
            share = min(1.0, site["done"] / site["total"])
            assert row["completion_pct"] == _pct(share), key
            assert row["courses_completed"] == ("1" if share >= 1 else "0")
        else:
            assert row["courses_started"] == "0" and row["completion_pct"] == ""
        assert row["average_score_pct"] == _pct(site["average_score"]), key
        assert row["attendance_pct"] == _pct(site["attendance"]), key
    capped = max(int(r["time_s"]) for r in rows.values())
    assert capped <= 40 * 3600 + 135  # no visit counted more than an hour


def test_the_pages_show_the_exports_numbers(fleet, term):
    rows = _export(fleet)
    for device_id, _name, _province, _site in term.sites:
        mine = [r for r in rows if r["device_id"] == device_id]
        page = fleet.get(f"/sites/{device_id}/cohorts/{term.cohorts[device_id]}")
        html = page.get_data(as_text=True)
        for r in mine:
            cell = html.split(f'data-learner="{r["learner_uid"]}"')[1].split("</tr>")[0]
            seconds = int(r["time_s"])
            minutes = round(seconds / 60)
            shown = f"{minutes // 60}:{minutes % 60:02d}" if seconds else "0:00"
            assert f'data-figure="time">{shown.translate(KHMER)}<' in cell
            score = r["average_score_pct"]
            shown = f"{round(float(score))}%".translate(KHMER) if score else "–"
            assert f'data-figure="average_score">{shown}<' in cell
            shown = f"{round(float(r['attendance_pct']))}%".translate(KHMER)
            assert f'data-figure="attendance">{shown}<' in cell
    by_province: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_province.setdefault(r["province"], []).append(r)
    for province, learners in by_province.items():
        body = fleet.get(f"/api/v1/provinces/{province}").get_json()
        total = body["figures"]
        assert total["learners"] == len(learners)
        assert total["time_s"] == sum(int(r["time_s"]) for r in learners)
        assert total["completed"] == sum(int(r["courses_completed"]) for r in learners)
        present = sum(int(r["sessions_present"]) for r in learners)
        assert total["attendance"]["present"] == present
        shares = [float(r["completion_pct"]) for r in learners if r["completion_pct"]]
        assert round(100 * total["completion"], 1) == pytest.approx(
            sum(shares) / len(shares), abs=0.05
        )
        assert [s["device"] for s in body["sites"]] == sorted(
            {r["device_id"] for r in learners},
            key=lambda d: next(r["site"] for r in learners if r["device_id"] == d),
        )
        for s in body["sites"]:
            assert s["data_as_of"]  # each site says how fresh its figures are


def test_the_completion_export_agrees_with_the_site_figures(fleet, term):
    response = fleet.get("/export/completion.csv")
    completion = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    for device_id, _name, province, _site in term.sites:
        (line,) = [r for r in completion if r["device_id"] == device_id]
        body = fleet.get(f"/api/v1/provinces/{province}").get_json()
        (site,) = [s for s in body["sites"] if s["device"] == device_id]
        assert int(line["learners_started"]) == site["figures"]["enrolments"]
        assert int(line["learners_completed"]) == site["figures"]["completed"]
        assert float(line["completion_pct"]) == round(100 * site["figures"]["completion"], 1)


def test_a_student_teacher_who_moved_keeps_one_transcript(fleet, term):
    kandal, _takeo, ctc = (s[0] for s in term.sites)
    rows = {(r["device_id"], r["national_id"]): r for r in _export(fleet)}
    first = rows[(kandal, MOVER)]["learner_uid"]
    later = rows[(ctc, MOVER)]["learner_uid"]
    body = fleet.get(f"/api/v1/sites/{kandal}/learners/{first}/transcript").get_json()
    assert [r["site"]["device"] for r in body["records"]] == [kandal, ctc]
    assert body["records"][1]["linked_by"] == "national_id"
    assert body["figures"]["time_s"] == int(rows[(kandal, MOVER)]["time_s"]) + int(
        rows[(ctc, MOVER)]["time_s"]
    )
    # Seen from the CTC, it is the same learner.
    other = fleet.get(f"/api/v1/sites/{ctc}/learners/{later}/transcript").get_json()
    assert {r["learner"] for r in other["records"]} == {first, later}
    page = fleet.get(f"/sites/{kandal}/learners/{first}/transcript").get_data(as_text=True)
    assert page.count('class="card transcript-site"') == 2
    assert "TEC Kandal" in page and "CTC Takeo" in page
    json.dumps(body)  # plain data, as the page
