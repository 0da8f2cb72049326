"""Central's figures of one learner, linking their records across sites, and who sees names
(issue 21 item 3). Batches are built as a site builds them and ingested by the real code."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from sync import protocol
from sync.central import dashboards, figures, learners, registry
from sync.central.db import database
from sync.central.ingest import ingest_batch
from sync.central.models import CentralCertificate, LearnerLink, Person
from sync.protocol import (
    CRITERIA_EXTENSION,
    Batch,
    CohortRecord,
    EventRecord,
    ItemRecord,
    UserRecord,
)
from tests.central_support import sign_in
from tests.conftest import assert_api_error, form_csrf

ITEMS = [
    ItemRecord("p/lesson", "lesson", "មេរៀន", "Lesson", "p/c", "វគ្គ", "Course", 2),
    ItemRecord("p/quiz", "quiz", "សំណួរ", "Quiz", "p/c", "វគ្គ", "Course", 2),
    ItemRecord("p/task", "task", "កិច្ចការ", "Task", "p/c", "វគ្គ", "Course", 2, False),
    ItemRecord("urn:kru:session:s1", counts=False),
    ItemRecord("urn:kru:session:s2", counts=False),
    ItemRecord("urn:kru:competency:CTPS.1.1", counts=False),
]
DONE = {"completed", "passed", "failed"}


def _event(seq, uid, verb, obj, result=None, context=None) -> EventRecord:
    decided = verb in DONE and (context or {}).get("decided_by") == "site"
    eid = protocol.decision_id(uid, obj, verb) if decided else str(uuid.uuid4())
    now = int(time.time() * 1000)
    return EventRecord(seq, eid, uid, verb, obj, result, context, None, now + seq, "boot")


def _send(device, events, users, after=0, cohorts=()):
    for n, ev in enumerate(events, start=after + 1):
        ev.seq = n
    last = after + len(events)
    batch = Batch(
        batch_id=protocol.batch_id_for(device.device_id, after, last),
        device_id=device.device_id,
        after=after,
        last=last,
        clock_ms=int(time.time() * 1000),
        users=users,
        cohorts=list(cohorts),
        items=ITEMS,
        events=events,
    )
    ingest_batch(database, device, batch)
    return batch


SITE = {"decided_by": "site"}


def _term(device, uid="u1", nid="NT-1"):
    """One learner's term: time, a quiz failed then passed, a task, an observation, levels,
    attendance at two sessions of their cohort (one where only a classmate was marked)."""
    criteria = {
        "extensions": {
            CRITERIA_EXTENSION: [
                {"criterion": "a", "competency": "CTPS.1.1", "level": 3, "max": 4},
                {"criterion": "b", "competency": "CTPS.2.1", "level": 1, "max": 4},
            ]
        }
    }
    events = [
        _event(0, uid, "progressed", "p/lesson", {"duration_s": 5400, "completion": 0.5}),
        _event(0, uid, "progressed", "p/lesson", {"duration_s": 75.4}),
        _event(0, uid, "completed", "p/lesson", None, SITE),
        _event(0, uid, "attempted", "p/quiz", {"score": 0.4, "duration_s": 100}),
        _event(0, uid, "failed", "p/quiz", {"score": 0.4}, SITE),
        _event(0, uid, "passed", "p/quiz", {"score": 0.9}, SITE),
        _event(0, uid, "submitted", "p/task", {"duration_s": 30}),
        _event(0, uid, "reviewed", "p/task", {"decision": "returned"}),
        _event(0, uid, "submitted", "p/task"),
        _event(0, uid, "reviewed", "p/task", {"decision": "accepted", "success": True}),
        _event(0, uid, "observed", "p/task", criteria),
        _event(0, uid, "assessed", "urn:kru:competency:CTPS.1.1", {"level": 1}),
        _event(0, uid, "assessed", "urn:kru:competency:CTPS.1.1", {"level": 2}),
        _event(
            0,
            uid,
            "attended",
            "urn:kru:session:s1",
            {"response": "absent"},
            {
                "session": "s1",
                "cohort": "c1",
                "course": "p/c",
                "starts_at": "2026-10-01T01:00:00+00:00",
            },
        ),
        _event(
            0,
            uid,
            "attended",
            "urn:kru:session:s1",
            {"response": "late"},
            {
                "session": "s1",
                "cohort": "c1",
                "course": "p/c",
                "starts_at": "2026-10-01T01:00:00+00:00",
            },
        ),
        _event(
            0,
            "u2",
            "attended",
            "urn:kru:session:s2",
            {"response": "present"},
            {
                "session": "s2",
                "cohort": "c1",
                "course": "p/c",
                "starts_at": "2026-10-08T01:00:00+00:00",
            },
        ),
        _event(0, uid, "progressed", "urn:kru:session:s9", {"duration_s": 999}),  # no item
    ]
    users = [
        UserRecord(uid, "dara", "សុខ ដារា", "learner", nid),
        UserRecord("u2", "sophea", "ចាន់ សុភា", "learner", ""),
    ]
    return _send(device, events, users, cohorts=[CohortRecord("c1", "ក្រុម ក", [uid, "u2"])])


@pytest.fixture
def site(central_app):
    return registry.add_device("TEC Kandal", "http://c", "កណ្ដាល").device


def test_each_figure_follows_its_one_rule(site):
    _term(site)
    f = figures.learner_figures([site.id])[(site.id, "u1")]
    assert f.time_s == 3600 + 75 + 100 + 30  # an hour at most per event; not the session's
    course = f.courses["p/c"]
    assert (course.done, course.counted) == (2, 2) and course.completed
    assert f.scores == {"p/quiz": 0.9}  # the highest the site decided, not the mean
    assert (f.submissions, f.accepted, f.passed_tasks, f.returned) == (2, 1, 1, 1)
    assert f.observations == 1 and f.observation_share == pytest.approx(4 / 8)
    assert f.levels == {"CTPS.1.1": 2}  # the latest decision
    assert (f.attendance.late, f.attendance.absent, f.attendance.unmarked) == (1, 0, 1)
    assert f.attendance.share == 0.5  # late counts; the session s2 without a mark does not
    classmate = figures.learner_figures([site.id])[(site.id, "u2")]
    assert classmate.attendance.share == 0.5  # present at s2, unmarked at s1


def test_a_group_is_only_the_summary_of_its_learners(site):
    _term(site)
    CentralCertificate.create(
        device=site.id,
        code="ABCDE-FGHJK",
        event_id="e",
        user_uid="u1",
        name="ដារា",
        hours=12,
        issued="2026-11-30",
        record='{"course": {"key": "p/c", "km": "វគ្គ"}}',
        signature="s",
    )
    per = figures.learner_figures([site.id])
    total = figures.summarise(per.values())
    assert total.learners == 2 and total.started == 1 and total.completed == 1
    assert total.time_s == per[(site.id, "u1")].time_s
    assert total.certificates == 1 and total.developing_share == 1.0
    assert total.attendance.share == pytest.approx(2 / 4)
    province = dashboards.province("កណ្ដាល")
    assert province.total == total and province.sites[0].figures == total


def _client(app, role="viewer"):
    client = app.test_client()
    sign_in(client, role)
    return client


@pytest.mark.parametrize("names", [False, True])
def test_names_show_only_where_the_setting_allows(make_central_app, names):
    app = make_central_app(**{"central.xapi_names": names})
    device = registry.add_device("TEC Kandal", "http://c", "កណ្ដាល").device
    _term(device)
    client = _client(app)
    pages = [
        client.get(f"/sites/{device.device_id}/cohorts/c1"),
        client.get(f"/sites/{device.device_id}/learners/u1"),
        client.get(f"/sites/{device.device_id}/learners/u1/transcript"),
        client.get(f"/api/v1/sites/{device.device_id}/learners/u1/transcript"),
        client.get("/export/learners.csv"),
    ]
    for page in pages:
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        if page.is_json:
            text = json.dumps(page.get_json(), ensure_ascii=False)
        assert ("សុខ ដារា" in text) is names, page.request.path
        if not names:
            assert "NT-1" not in text  # the national teacher id is personal data too
        assert "u1" in text  # the pseudonymous id is always there
    assert ("NT-1" in pages[1].get_data(as_text=True)) is names  # the learner page
    assert ("NT-1" in pages[4].get_data(as_text=True)) is names  # the export


def test_a_moved_learner_is_one_record_by_the_national_id(central_app):
    college = registry.add_device("TEC Kandal", "http://c", "កណ្ដាល").device
    ctc = registry.add_device("CTC Takeo", "http://c", "តាកែវ").device
    _term(college, "a1", "NT-7")
    _term(ctc, "b1", "NT-7")
    _term(registry.add_device("CTC Kep", "http://c", "កែប").device, "c1", "NT-8")
    found = learners.records(learners.find(college.device_id, "a1"))
    assert [(r.device_id, r.uid, r.linked_by) for r in found] == [
        (college.device_id, "a1", ""),
        (ctc.device_id, "b1", "national_id"),
    ]


def test_a_later_batch_corrects_the_id_and_a_replay_does_not_undo_it(central_app, site):
    first = _term(site, "u1", "NT-1")
    users = [UserRecord("u1", "dara", "សុខ ដារា", "learner", "NT-2")]
    _send(site, [_event(0, "u1", "progressed", "p/lesson")], users, after=first.last)
    assert Person.get(Person.uid == "u1").national_id == "NT-2"
    ingest_batch(database, site, first)  # the old batch again
    assert Person.get(Person.uid == "u1").national_id == "NT-2"
    older = [UserRecord("u1", "dara", "សុខ ដារា", "learner")]  # a Kru before 1.4: no ids
    _send(site, [_event(0, "u1", "progressed", "p/lesson")], older, after=first.last + 1)
    assert Person.get(Person.uid == "u1").national_id == "NT-2"


def _link(client, device, uid, other_device, other_uid, action="link"):
    page = client.get(f"/sites/{device}/learners/{uid}").get_data(as_text=True)
    return client.post(
        f"/sites/{device}/learners/{uid}/links",
        data={
            "csrf_token": form_csrf(page),
            "device": other_device,
            "uid": other_uid,
            "action": action,
        },
    )


def test_an_admin_links_two_records_by_hand_and_unlinks_them(central_app):
    college = registry.add_device("TEC Kandal", "http://c", "កណ្ដាល").device
    ctc = registry.add_device("CTC Takeo", "http://c", "តាកែវ").device
    _term(college, "a1", "")
    _term(ctc, "b1", "NT-7")
    admin = _client(central_app, "admin")
    assert _link(admin, college.device_id, "a1", ctc.device_id, "b1").status_code == 303
    body = admin.get(f"/api/v1/sites/{ctc.device_id}/learners/b1/transcript").get_json()
    assert [r["linked_by"] for r in body["records"]] == ["", "admin"]
    assert body["figures"]["time_s"] == 2 * (3600 + 75 + 100 + 30)
    _link(admin, college.device_id, "a1", ctc.device_id, "b1", "unlink")
    body = admin.get(f"/api/v1/sites/{ctc.device_id}/learners/b1/transcript").get_json()
    assert len(body["records"]) == 1
    (row,) = LearnerLink.select()
    assert row.linked is False and row.by_user == "admin1"


def test_an_unlink_overrides_a_matching_national_id(central_app):
    college = registry.add_device("TEC Kandal", "http://c", "កណ្ដាល").device
    ctc = registry.add_device("CTC Takeo", "http://c", "តាកែវ").device
    _term(college, "a1", "NT-7")
    _term(ctc, "b1", "NT-7")  # a typing mistake on one class list
    admin = _client(central_app, "admin")
    _link(admin, ctc.device_id, "b1", college.device_id, "a1", "unlink")
    assert len(learners.records(learners.find(college.device_id, "a1"))) == 1
    assert len(learners.records(learners.find(ctc.device_id, "b1"))) == 1


@pytest.mark.parametrize(
    ("other", "words"),
    [
        (("nope", "b1"), "No learner b1 on site nope"),
        (("self", "a1"), "cannot be linked to itself"),
    ],
)
def test_a_bad_link_says_why_and_changes_nothing(central_app, other, words):
    college = registry.add_device("TEC Kandal", "http://c", "កណ្ដាល").device
    _term(college, "a1", "")
    admin = _client(central_app, "admin")
    device = college.device_id if other[0] == "self" else other[0]
    response = _link(admin, college.device_id, "a1", device, other[1])
    assert response.status_code == 303
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert words in page or "flash error" in page
    assert LearnerLink.select().count() == 0


def test_only_an_admin_links_records(central_app, site):
    _term(site)
    viewer = _client(central_app, "viewer")
    assert 'name="action"' not in viewer.get(f"/sites/{site.device_id}/learners/u1").get_data(
        as_text=True
    )
    assert _link(viewer, site.device_id, "u1", site.device_id, "u2").status_code == 403
    assert LearnerLink.select().count() == 0


def test_unknown_pages_are_not_found(central_app, site):
    _term(site)
    client = _client(central_app)
    assert client.get("/provinces/Nowhere").status_code == 404
    assert client.get(f"/sites/{site.device_id}/learners/nobody").status_code == 404
    assert client.get("/sites/nope/learners/u1/transcript").status_code == 404
    assert_api_error(client.get("/api/v1/provinces/Nowhere"), 404, "province_not_found")
    assert_api_error(
        client.get(f"/api/v1/sites/{site.device_id}/learners/x/transcript"),
        404,
        "learner_not_found",
    )
    assert central_app.test_client().get("/provinces/កណ្ដាល").status_code == 302  # sign in first


def test_the_learners_export_refuses_a_date_range_clearly(central_app, site):
    _term(site)
    client = _client(central_app)
    response = client.get(
        "/export/learners.csv?from=2026-10-01", headers={"Accept": "application/json"}
    )
    assert_api_error(response, 400, "no_date_range")
    page = client.get("/export/learners.xlsx?from=2026-10-01", follow_redirects=True)
    assert "flash error" in page.get_data(as_text=True)
