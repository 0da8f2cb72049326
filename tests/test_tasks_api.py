"""Tasks: submitting work, content checks, rubric reviews, versions and who may do what."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from edge_server.base.db import db
from edge_server.learning.models import Event, Progress
from tests.conftest import PASSWORD, api_headers, assert_api_error, csrf_token
from tests.tasks_support import ALL_CLEAR, BELOW, TASK, install_sample, pdf_bytes, png_bytes


@pytest.fixture
def site(app, tmp_path, make_user, make_cohort):
    install_sample(app, tmp_path)
    learner = make_user("learner")
    teacher = make_user("instructor")
    other_teacher = make_user("instructor")
    admin = make_user("admin")
    make_cohort(learners=[learner], instructors=[teacher])
    other = make_cohort(learners=[make_user("learner")], instructors=[other_teacher])
    return {
        "learner": learner,
        "teacher": teacher,
        "other_teacher": other_teacher,
        "admin": admin,
        "other_cohort": other,
    }


def submit(client, files, note="", item=TASK, sid=None):
    """POST the multipart form (encoded here in memory: the test client's spooled body of a
    large form stays open after the request)."""
    data = MultiDict([("item", item), ("note", note)])
    for name, content in files:
        data.add("file", FileStorage(io.BytesIO(content), filename=name))
    if sid:
        data.add("id", sid)
    boundary, body = encode_multipart(data)
    return client.post(
        "/api/v1/submissions",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=api_headers(client),
    )


def review(client, sid, rubric, decision="accepted", comment="Good plan."):
    return client.post(
        f"/api/v1/submissions/{sid}/review",
        json={"rubric": rubric, "comment": comment, "decision": decision},
        headers=api_headers(client),
    )


def signin(client, user):
    client.delete("/api/v1/session", headers={"X-CSRFToken": csrf_token(client)})
    response = client.post(
        "/api/v1/session",
        json={"username": user.username, "password": PASSWORD},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200, response.get_json()


def progress_of(user, item=TASK):
    return Progress.get_or_none((Progress.user_id == user.id) & (Progress.item == item))


def test_a_learner_submits_an_image_and_a_pdf_and_the_event_carries_checksums(client, site):
    signin(client, site["learner"])
    image, pdf = png_bytes(), pdf_bytes()
    assert len(image) > 2_000_000
    response = submit(client, [("plan.png", image), ("plan.pdf", pdf)], note="My plan")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "submitted" and body["version"] == 1
    event = Event.get(Event.id == body["id"])
    assert event.verb == "submitted" and event.object == TASK
    context = json.loads(event.context)
    import hashlib

    assert [f["sha256"] for f in context["files"]] == [
        hashlib.sha256(image).hexdigest(),
        hashlib.sha256(pdf).hexdigest(),
    ]
    assert [f["kind"] for f in context["files"]] == ["image", "document"]
    assert context["note"] == "My plan"
    with client.get(f"/submissions/{body['id']}/files/0") as got:
        assert got.status_code == 200 and got.data == image and got.mimetype == "image/png"
        assert "sandbox" in got.headers["Content-Security-Policy"]
    with client.get(f"/submissions/{body['id']}/files/1") as got:
        assert got.data == pdf and got.mimetype == "application/pdf"
        assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert progress_of(site["learner"]).status == "in_progress"


def test_the_same_client_id_twice_makes_one_submission(client, site):
    signin(client, site["learner"])
    sid = str(uuid.uuid4())
    first = submit(client, [("a.pdf", pdf_bytes())], sid=sid)
    again = submit(client, [("a.pdf", pdf_bytes())], sid=sid)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == sid
    assert Event.select().where(Event.verb == "submitted").count() == 1


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("plan.pdf", b"<html><script>alert(1)</script></html>" * 50),  # named PDF, is HTML
        ("plan.png", b"MZ\x90\x00" + bytes(4000)),  # a Windows program named as an image
        ("song.mp3", b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(4000)),  # audio: not accepted
    ],
)
def test_bytes_that_are_not_an_accepted_kind_are_refused(client, site, name, data):
    signin(client, site["learner"])
    error = assert_api_error(submit(client, [(name, data)]), 415, "wrong_file_kind")
    assert error["file"] == name
    assert Event.select().where(Event.verb == "submitted").count() == 0
    assert not [p for p in (site_home(client) / "submissions").rglob("*") if p.is_file()]


def site_home(client):
    return client.application.config["KRU_HOME"].root


def test_accepted_at_the_pass_mark_passes_and_sends_a_decision(client, site):
    signin(client, site["learner"])
    sid = submit(client, [("plan.pdf", pdf_bytes())]).get_json()["id"]
    signin(client, site["teacher"])
    response = review(client, sid, ALL_CLEAR)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["review"]["score"] == 1.0 and body["review"]["points"] == 6
    row = progress_of(site["learner"])
    assert (row.status, row.score) == ("passed", 1.0)
    decisions = Event.select().where((Event.verb == "passed") & (Event.object == TASK))
    assert decisions.count() == 1
    reviewed = Event.get(Event.verb == "reviewed")
    assert reviewed.user_id == site["learner"].id
    assert json.loads(reviewed.context)["reviewer"] == site["teacher"].uid


def test_accepted_below_the_pass_mark_fails(client, site):
    signin(client, site["learner"])
    sid = submit(client, [("plan.pdf", pdf_bytes())]).get_json()["id"]
    signin(client, site["teacher"])
    body = review(client, sid, BELOW).get_json()
    assert body["review"]["score"] == pytest.approx(2 / 6, abs=1e-3)
    assert progress_of(site["learner"]).status == "failed"
    assert Event.select().where(Event.verb == "failed").count() == 1


@pytest.mark.parametrize(
    ("rubric", "code"),
    [
        ({"objective": "clear", "timing": "complete"}, "invalid_rubric"),  # one missing
        ({**ALL_CLEAR, "support": "excellent"}, "invalid_rubric"),  # no such level
        ({**ALL_CLEAR, "spelling": "good"}, "invalid_rubric"),  # no such criterion
        ("clear", "invalid_rubric"),
    ],
)
def test_a_wrong_rubric_is_refused_and_nothing_changes(client, site, rubric, code):
    signin(client, site["learner"])
    sid = submit(client, [("plan.pdf", pdf_bytes())]).get_json()["id"]
    signin(client, site["teacher"])
    assert_api_error(review(client, sid, rubric), 400, code)
    assert client.get(f"/api/v1/submissions/{sid}").get_json()["status"] == "submitted"
    assert Event.select().where(Event.verb == "reviewed").count() == 0


def test_returned_work_is_resubmitted_and_every_version_is_kept(client, site):
    signin(client, site["learner"])
    first_bytes = png_bytes(300)
    first = submit(client, [("v1.png", first_bytes)]).get_json()["id"]
    assert_api_error(submit(client, [("v1b.pdf", pdf_bytes())]), 409, "submission_pending")
    signin(client, site["teacher"])
    review(client, first, BELOW, decision="returned", comment="Add the timing.")
    assert progress_of(site["learner"]).status == "in_progress"
    signin(client, site["learner"])
    mine = client.get(f"/api/v1/submissions/{first}").get_json()
    assert mine["review"]["comment"] == "Add the timing." and mine["status"] == "returned"
    second = submit(client, [("v2.pdf", pdf_bytes())])
    assert second.status_code == 201 and second.get_json()["version"] == 2
    signin(client, site["teacher"])
    review(client, second.get_json()["id"], ALL_CLEAR)
    assert progress_of(site["learner"]).status == "passed"
    assert progress_of(site["learner"]).attempts == 2
    signin(client, site["learner"])
    with client.get(f"/submissions/{first}/files/0") as got:
        assert got.data == first_bytes  # version 1 is kept
    page = client.get("/learn/items/classroom-reading/plan-reading-lesson").get_data(as_text=True)
    assert "Add the timing." in page and page.count('class="card version"') == 2


def test_role_boundaries(client, site):
    signin(client, site["learner"])
    sid = submit(client, [("plan.pdf", pdf_bytes())]).get_json()["id"]
    cohort_id = site["other_cohort"].id
    # the learner: sees their own, cannot review it nor read a cohort's queue
    assert client.get(f"/api/v1/submissions/{sid}").status_code == 200
    assert_api_error(review(client, sid, ALL_CLEAR), 403)
    assert_api_error(client.get(f"/api/v1/cohorts/{cohort_id}/submissions"), 403)
    # another learner: cannot see it
    signin(client, site["other_cohort"].members[0].user)
    assert_api_error(client.get(f"/api/v1/submissions/{sid}"), 404, "submission_not_found")
    assert client.get(f"/submissions/{sid}/files/0").status_code == 404
    # the instructor of another cohort: cannot see, review, or list it
    signin(client, site["other_teacher"])
    assert_api_error(client.get(f"/api/v1/submissions/{sid}"), 404, "submission_not_found")
    assert_api_error(review(client, sid, ALL_CLEAR), 404, "submission_not_found")
    listed = client.get(f"/api/v1/cohorts/{cohort_id}/submissions").get_json()["submissions"]
    assert listed == []
    assert client.get(f"/teach/submissions/{sid}").status_code == 404
    # the learner's own instructor: lists and reviews it
    signin(client, site["teacher"])
    mine = [c for c in site["teacher"].teaching][0].cohort_id
    queue = client.get(f"/api/v1/cohorts/{mine}/submissions?status=submitted").get_json()
    assert [e["id"] for e in queue["submissions"]] == [sid]
    assert_api_error(client.get(f"/api/v1/cohorts/{cohort_id}/submissions"), 403)
    # the admin: sees every cohort's queue and may review
    signin(client, site["admin"])
    assert client.get(f"/api/v1/cohorts/{mine}/submissions").status_code == 200
    assert review(client, sid, ALL_CLEAR).status_code == 200
    assert_api_error(review(client, sid, ALL_CLEAR), 409, "already_reviewed")


def test_a_phone_cannot_decide_a_task_itself(client, site):
    signin(client, site["learner"])
    response = client.post(
        "/api/v1/events",
        json={
            "events": [
                {
                    "id": str(uuid.uuid4()),
                    "verb": "completed",
                    "object": TASK,
                    "timestamp": "2026-01-01T00:00:00+00:00",
                }
            ]
        },
        headers=api_headers(client),
    )
    assert_api_error(response, 400, "reviewed_on_server")
    assert progress_of(site["learner"]) is None


def test_a_file_over_the_tasks_limit_is_refused(client, site, app):
    app.config["KRU"] = app.config["KRU"].replace(submissions__max_upload_mb=1)
    signin(client, site["learner"])
    assert_api_error(submit(client, [("big.png", png_bytes())]), 413, "file_too_large")


def test_the_quota_refuses_new_work_when_full(client, site, app):
    app.config["KRU"] = app.config["KRU"].replace(submissions__quota_mb=1)
    signin(client, site["learner"])
    assert_api_error(submit(client, [("big.png", png_bytes())]), 507, "submission_quota_full")
    assert db.execute_sql("SELECT COUNT(*) FROM task_submissions").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("item", "files", "sid", "status", "code"),
    [
        ("classroom-reading/no-such-task", [("p.pdf", b"%PDF-1.4\n")], None, 404, "item_not_found"),
        (
            "classroom-reading/reading-classroom",
            [("p.pdf", b"%PDF-1.4\n")],
            None,
            404,
            "not_a_task",
        ),
        (TASK, [], None, 400, "submission_missing_file"),
        (TASK, [("p.pdf", b"")], None, 400, "empty_file"),
        (TASK, [("p.pdf", b"%PDF-1.4\n")], "not-a-uuid", 400, "invalid_id"),
        (
            TASK,
            [("p.pdf", b"%PDF-1.4\n")],
            str(uuid.uuid5(uuid.NAMESPACE_URL, "x")),
            400,
            "invalid_id",
        ),
    ],
)
def test_bad_submissions_get_one_clear_error_and_store_nothing(
    client, site, item, files, sid, status, code
):
    signin(client, site["learner"])
    assert_api_error(submit(client, files, item=item, sid=sid), status, code)
    assert db.execute_sql("SELECT COUNT(*) FROM task_submissions").fetchone()[0] == 0
    assert Event.select().where(Event.verb == "submitted").count() == 0


def test_a_bad_page_form_shows_the_message_in_khmer(client, site):
    from tests.conftest import form_csrf

    signin(client, site["learner"])
    url = "/learn/items/classroom-reading/plan-reading-lesson"
    token = form_csrf(client.get(url).get_data(as_text=True))
    data = MultiDict([("csrf_token", token), ("item", TASK)])
    data.add("file", FileStorage(io.BytesIO(b"<html>" * 100), filename="plan.pdf"))
    boundary, body = encode_multipart(data)
    response = client.post(
        f"{url}/submissions",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "មិនមែនជាប្រភេទឯកសារដែលកិច្ចការនេះទទួលទេ" in page and "plan.pdf" in page
