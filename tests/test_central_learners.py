"""Central's figures of one learner, linking their records across sites, and who sees names
(issue 21 item 3). Batches are built as a site builds them and ingested by the real code."""

from __future__ import annotations

import json

import pytest

from sync.central import dashboards, figures, learners, registry
from sync.central.db import database
from sync.central.ingest import ingest_batch
from sync.central.models import CentralCertificate, LearnerLink, Person
from sync.protocol import (
    UserRecord,
)
from tests.central_support import learner_term, sign_in, term_batch, term_event
from tests.conftest import assert_api_error, form_csrf


def _send(device, events, users, after=0, cohorts=()):
    batch = term_batch(device.device_id, events, users, after, cohorts)
    ingest_batch(database, device, batch)
    return batch


def _term(device, uid="u1", nid="NT-1"):
    batch = learner_term(device.device_id, uid, nid)
    ingest_batch(database, device, batch)
    return batch


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
    alone = figures.learner_figures([site.id], {(site.id, "u2")})[(site.id, "u2")]
    assert alone.attendance == classmate.attendance  # read alone, u1's marks still count s1
    assert alone.time_s == classmate.time_s and set(alone.courses) == set(classmate.courses)


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
    _send(site, [term_event("u1", "progressed", "p/lesson")], users, after=first.last)
    assert Person.get(Person.uid == "u1").national_id == "NT-2"
    ingest_batch(database, site, first)  # the old batch again
    assert Person.get(Person.uid == "u1").national_id == "NT-2"
    older = [UserRecord("u1", "dara", "សុខ ដារា", "learner")]  # a Kru before 1.4: no ids
    _send(site, [term_event("u1", "progressed", "p/lesson")], older, after=first.last + 1)
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
        (("nope", "b1"), "មិនមានអ្នករៀន b1 នៅទីតាំង nope ទេ"),
        (("self", "a1"), "មិនអាចភ្ជាប់ទៅនឹងខ្លួនវាផ្ទាល់"),
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
    assert words in page.split('class="flash error"')[1].split("</")[0]  # in Khmer
    assert LearnerLink.select().count() == 0


def test_only_an_admin_links_records(central_app, site):
    _term(site)
    viewer = _client(central_app, "viewer")
    assert 'name="action"' not in viewer.get(f"/sites/{site.device_id}/learners/u1").get_data(
        as_text=True
    )
    assert _link(viewer, site.device_id, "u1", site.device_id, "u2").status_code == 403
    assert LearnerLink.select().count() == 0


def test_every_page_of_the_drill_down_shows_the_same_figures(central_app, site):
    _term(site)
    client = _client(central_app)
    pages = [
        client.get("/provinces/កណ្ដាល"),
        client.get(f"/sites/{site.device_id}"),
        client.get(f"/sites/{site.device_id}/cohorts/c1"),
        client.get(f"/sites/{site.device_id}/learners/u1"),
        client.get(f"/sites/{site.device_id}/learners/u1/transcript"),
    ]
    assert [p.status_code for p in pages] == [200] * 5
    texts = [p.get_data(as_text=True) for p in pages]
    assert 'data-figure="time_per_learner">១:០៣<' in texts[0]  # 3805 s, the one with time
    assert 'data-figure="time_per_learner">១:០៣<' in texts[1]
    assert 'data-figure="time">១:០៣<' in texts[2] and 'data-figure="time">១:០៣<' in texts[3]
    assert texts[4].count('data-figure="time">១:០៣<') == 3  # course, record, transcript
    for text in texts:  # each says how fresh its site's data is
        assert 'id="data-as-of"' in text or 'data-figure="as_of"' in text


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
