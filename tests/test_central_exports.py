"""The ministry's exports (issue 21 item 4): CSV and XLSX, filters, its time zone, bad filters.

A term of learning at three sites in two provinces: 20 learners a site, two courses, events
in October and November 2026, a learner's completion decided by the site.
"""

from __future__ import annotations

import io
import time
import uuid
from datetime import UTC, datetime

import openpyxl
import pytest

from sync import protocol
from sync.central import registry
from sync.central.db import database
from sync.central.ingest import ingest_batch
from sync.protocol import Batch, EventRecord, ItemRecord, UserRecord
from tests.conftest import assert_api_error, csrf_token

LEARNERS = 20
ITEMS = [
    ItemRecord("lit/i1", "lesson", "មេរៀនទី១", "Lesson 1", "lit/c", "អក្សរសាស្ត្រ", "Literacy", 2),
    ItemRecord("lit/i2", "quiz", "សំណួរ", "Quiz", "lit/c", "អក្សរសាស្ត្រ", "Literacy", 2),
    ItemRecord("math/i1", "lesson", "គណិត", "Maths 1", "math/c", "គណិតវិទ្យា", "Maths", 1),
]


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def term_batch(device_id: str, plan: list[tuple[str, str, str, str]]) -> Batch:
    """Return one batch of ``plan``'s events: (learner uid, verb, item, UTC time).

    A verb ``completed`` or ``passed`` is sent as the site's decision (its decision id)."""
    events = []
    for seq, (uid, verb, item, at) in enumerate(plan, start=1):
        decided = verb in ("completed", "passed")
        eid = protocol.decision_id(uid, item, verb) if decided else str(uuid.uuid4())
        events.append(EventRecord(seq, eid, uid, verb, item, None, None, None, ms(at), "boot"))
    users = sorted({uid for uid, *_ in plan})
    return Batch(
        batch_id=protocol.batch_id_for(device_id, 0, len(events)),
        device_id=device_id,
        after=0,
        last=len(events),
        clock_ms=int(time.time() * 1000),  # the Pi's clock is right: times stay as sent
        users=[UserRecord(u, f"user-{u}", f"សិស្ស {u}", "learner") for u in users],
        items=ITEMS,
        events=events,
    )


@pytest.fixture
def term(central_app):
    """Three sites: Takeo (October learners), Kampot (November), Kampot 2 (both)."""
    sites = {
        "takeo": registry.add_device("TEC Takeo", "http://c", "Takeo").device,
        "kampot": registry.add_device("TEC Kampot", "http://c", "Kampot").device,
        "kampot2": registry.add_device('=HYPERLINK("x")', "http://c", "Kampot").device,
    }
    months = {
        "takeo": ["2026-10-05"],
        "kampot": ["2026-11-20"],
        "kampot2": ["2026-10-05", "2026-11-20"],
    }
    for name, device in sites.items():
        plan = []
        for n in range(LEARNERS):
            uid = f"{name}-{n}"
            day = months[name][n % len(months[name])]
            plan.append((uid, "experienced", "lit/i1", f"{day}T02:00:00"))
            plan.append((uid, "completed", "lit/i1", f"{day}T02:10:00"))
            if n % 2 == 0:  # half of them finish the course
                plan.append((uid, "passed", "lit/i2", f"{day}T03:00:00"))
            if n % 4 == 0:
                plan.append((uid, "experienced", "math/i1", f"{day}T04:00:00"))
        ingest_batch(database, device, term_batch(device.device_id, plan))
    return sites


def signed_in(app):
    client = app.test_client()
    registry.add_user("viewer1", "mekong-river-2026", "viewer")
    response = client.post(
        "/api/v1/session",
        json={"username": "viewer1", "password": "mekong-river-2026"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200
    return client


def sheet(response) -> list[tuple]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    return list(book.active.iter_rows(values_only=True))


def test_completion_workbook_has_every_site_and_course_with_khmer_titles(central_app, term):
    rows = sheet(signed_in(central_app).get("/export/completion.xlsx"))
    header, body = rows[0], rows[1:]
    assert header[:9] == (
        "device_id",
        "site",
        "province",
        "course_key",
        "course_title_en",
        "course_title_km",
        "learners_started",
        "learners_completed",
        "completion_pct",
    )
    assert header[9] == "from (Asia/Phnom_Penh)"
    by = {(r[1], r[3]): r for r in body}
    literacy = by[("TEC Takeo", "lit/c")]
    assert literacy[5] == "អក្សរសាស្ត្រ"
    assert literacy[6:9] == (LEARNERS, LEARNERS // 2, 75.0)  # numbers, not text
    assert by[("TEC Takeo", "math/c")][6:9] == (LEARNERS // 4, 0, 0.0)
    assert {r[2] for r in body} == {"Takeo", "Kampot"}


def test_a_name_that_looks_like_a_formula_stays_text_in_the_workbook(central_app, term):
    response = signed_in(central_app).get("/export/sites.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    cells = [c for row in book.active.iter_rows() for c in row if c.value == '=HYPERLINK("x")']
    assert cells and all(c.data_type == "s" for c in cells)


def test_filters_narrow_by_province_site_and_course(central_app, term):
    client = signed_in(central_app)
    rows = sheet(client.get("/export/completion.xlsx?province=Kampot&course=lit/c"))[1:]
    assert sorted(r[0] for r in rows) == sorted(
        [term["kampot"].device_id, term["kampot2"].device_id]
    )
    assert {r[3] for r in rows} == {"lit/c"}
    one = sheet(client.get(f"/export/sites.xlsx?site={term['takeo'].device_id}"))[1:]
    assert [r[1] for r in one] == ["TEC Takeo"]


def test_a_date_range_counts_the_learners_active_within_it(central_app, term):
    client = signed_in(central_app)
    rows = sheet(client.get("/export/completion.xlsx?from=2026-11-01&to=2026-11-30"))[1:]
    by = {(r[1], r[3]): r for r in rows}
    assert ("TEC Takeo", "lit/c") not in by  # nobody there in November
    assert by[("TEC Kampot", "lit/c")][6] == LEARNERS
    assert by[('=HYPERLINK("x")', "lit/c")][6] == LEARNERS // 2  # the November half
    assert by[("TEC Kampot", "lit/c")][9:11] == ("2026-11-01", "2026-11-30")
    october = sheet(client.get("/export/completion.xlsx?to=2026-10-31"))[1:]
    assert {r[1] for r in october} == {"TEC Takeo", '=HYPERLINK("x")'}


def test_days_are_the_ministrys_days_not_utc_days(central_app):
    device = registry.add_device("TEC Kep", "http://c", "Kep").device
    # 20:00 UTC on 30 November is 03:00 on 1 December in Phnom Penh.
    plan = [("late", "experienced", "lit/i1", "2026-11-30T20:00:00")]
    ingest_batch(database, device, term_batch(device.device_id, plan))
    client = signed_in(central_app)
    december = sheet(client.get("/export/completion.xlsx?from=2026-12-01&to=2026-12-01"))[1:]
    assert [r[6] for r in december] == [1]
    november = sheet(client.get("/export/completion.xlsx?from=2026-11-30&to=2026-11-30"))[1:]
    assert november == []


def test_times_in_the_sites_export_are_local_and_the_heading_names_the_zone(central_app, term):
    from sync.central.models import Device

    Device.update(last_seen_at="2026-11-30T20:00:00+00:00").where(
        Device.id == term["takeo"].id
    ).execute()
    client = signed_in(central_app)
    text = client.get(f"/export/sites.csv?site={term['takeo'].device_id}").get_data(as_text=True)
    header, row = text.lstrip("\ufeff").splitlines()[:2]
    assert "last_seen_at (Asia/Phnom_Penh)" in header
    assert "2026-12-01 03:00:00" in row


def test_the_file_name_says_what_the_filter_chose(central_app, term):
    response = signed_in(central_app).get(
        "/export/completion.csv?province=Kampot&from=2026-11-01&to=2026-11-30"
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="kru-completion-Kampot-2026-11-01_2026-11-30.csv"'
    )


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("from=30/11/2026", "bad_date"),
        ("to=2026-13-01", "bad_date"),
        ("from=2026-12-01&to=2026-11-01", "bad_date_range"),
        ("from=2000-01-01&to=2026-01-01", "bad_date_range"),
        ("site=no-such-site", "unknown_site"),
    ],
)
def test_a_bad_filter_gets_a_json_error_with_a_stable_code(central_app, term, query, code):
    response = signed_in(central_app).get(
        f"/export/completion.xlsx?{query}", headers={"Accept": "application/json"}
    )
    assert_api_error(response, 400, code)


def test_a_bad_filter_on_the_page_comes_back_with_a_khmer_message(central_app, term):
    client = signed_in(central_app)
    client.post("/language", data={"lang": "km", "csrf_token": csrf_token(client)})
    response = client.get("/export/completion.csv?from=2026-12-01&to=2026-11-01")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ចន្លោះកាលបរិច្ឆេទ" in page
    assert 'value="2026-12-01"' in page  # the form keeps what was typed


def test_an_unknown_export_or_format_is_not_found(central_app, term):
    client = signed_in(central_app)
    assert client.get("/export/learners.xlsx").status_code == 404
    assert client.get("/export/completion.pdf").status_code == 404


def test_exports_need_a_sign_in(central_app):
    response = central_app.test_client().get("/export/completion.xlsx")
    assert response.status_code == 302


def test_a_cohort_page_lists_each_learner_with_courses_score_and_last_activity(central_app):
    from sync.protocol import CohortRecord

    device = registry.add_device("TEC Pursat", "http://c", "Pursat").device
    plan = [
        ("a", "experienced", "lit/i1", "2026-11-30T20:00:00"),
        ("a", "completed", "lit/i1", "2026-11-30T20:05:00"),
        ("b", "experienced", "lit/i1", "2026-11-02T01:00:00"),
    ]
    batch = term_batch(device.device_id, plan)
    batch.events[1].result = {"score": 0.8}
    batch.cohorts = [CohortRecord("c1", "ក្រុម ក", ["a", "b", "c"])]
    ingest_batch(database, device, batch)
    client = signed_in(central_app)
    site = client.get(f"/sites/{device.device_id}").get_data(as_text=True)
    assert f'/sites/{device.device_id}/cohorts/c1"' in site
    page = client.get(f"/sites/{device.device_id}/cohorts/c1").get_data(as_text=True)
    rows = page.split('<table id="learners">')[1].split("</table>")[0].split("<tr>")[2:]
    assert len(rows) == 3  # every member, also one with no activity yet
    first = next(r for r in rows if "សិស្ស a" in r)
    assert "១/២" in first  # one of the course's two items decided done (Khmer digits)
    assert "៨០%" in first  # its average score
    assert "២០២៦-១២-០១ ០៣:០៥" in first  # last activity in Phnom Penh time
    assert 'id="data-as-of"' in page
    assert client.get(f"/sites/{device.device_id}/cohorts/nope").status_code == 404
    assert client.get("/sites/nope/cohorts/c1").status_code == 404
