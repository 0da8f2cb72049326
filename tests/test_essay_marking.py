"""Essay questions marked by an instructor in the review queue (issue 18 item 4)."""

from __future__ import annotations

import pytest

from content_packs.importers.convert import import_file
from edge_server.learning import assignments, essays
from edge_server.learning.models import Progress
from edge_server.tasks import service
from tests.conftest import api_headers, assert_api_error, form_csrf
from tests.learning_catalog import ev, post_events
from tests.packs_factory import install

GIFT = """::colour::What colour is the sky? {=blue ~green}

::why::ហេតុអ្វីបានជាអ្នកចង់ក្លាយជាគ្រូ? {}
"""


@pytest.fixture
def attempt(app, client, login_as, make_user, make_cohort, tmp_path):
    """A learner answered the quiz (one right choice, one essay); returns what the test needs."""
    src = tmp_path / "essays.gift"
    src.write_text(GIFT, encoding="utf-8")
    report = import_file(src, tmp_path / "p.zip")
    install(app, tmp_path / "p.zip")
    teacher = make_user(role="instructor")
    learner = login_as("learner")
    cohort = make_cohort(learners=[learner], instructors=[teacher])
    assignments.assign(cohort, f"{report.pack_id}/course", None, None)
    key = f"{report.pack_id}/essays"
    event = ev("attempted", key, {"response": {"q1": "c1", "q2": "ព្រោះខ្ញុំស្រលាញ់កុមារ។"}})
    response = post_events(client, [event])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["graded"][0]["awaiting_marking"] == ["q2"]
    login_as(user=teacher)
    return {"id": event["id"], "key": key, "learner": learner, "teacher": teacher, "cohort": cohort}


def test_the_attempt_waits_in_the_review_queue_with_the_learners_answer(client, attempt):
    entries = service.queue(attempt["teacher"], attempt["cohort"].id, "km", kind="essay")
    assert [(e.kind, e.id, e.status) for e in entries] == [("essay", attempt["id"], "submitted")]
    page = client.get(f"/teach/cohorts/{attempt['cohort'].id}/submissions")
    assert f"/teach/essays/{attempt['id']}" in page.get_data(as_text=True)
    html = client.get(f"/teach/essays/{attempt['id']}").get_data(as_text=True)
    assert "ព្រោះខ្ញុំស្រលាញ់កុមារ។" in html and "ហេតុអ្វីបានជាអ្នកចង់ក្លាយជាគ្រូ?" in html


@pytest.mark.parametrize(
    ("mark", "score", "status"), [("right", 1.0, "passed"), ("wrong", 0.5, "passed")]
)
def test_marking_the_essay_scores_the_attempt_again(client, attempt, mark, score, status):
    url = f"/teach/essays/{attempt['id']}"
    token = form_csrf(client.get(url).get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, "m-q2": mark})
    assert response.status_code == 302
    found = essays.get(attempt["teacher"], attempt["id"], "km")
    assert (found.marks, found.final_score) == ({"q2": mark == "right"}, score)
    row = Progress.get(Progress.item == attempt["key"], Progress.user_id == attempt["learner"].id)
    assert row.status == status and row.score == 1.0  # the best score stays
    entries = service.queue(attempt["teacher"], attempt["cohort"].id, "km", kind="essay")
    assert [(e.status, e.score) for e in entries] == [("accepted", score)]


def test_an_essay_is_marked_once_and_every_essay_needs_a_mark(client, attempt):
    url = f"/api/v1/essays/{attempt['id']}/marks"
    missing = client.post(url, json={"marks": {}}, headers=api_headers(client))
    assert_api_error(missing, 400, "essay_unmarked")
    done = client.post(url, json={"marks": {"q2": False}}, headers=api_headers(client))
    assert done.status_code == 200 and done.get_json()["score"] == 0.5
    again = client.post(url, json={"marks": {"q2": True}}, headers=api_headers(client))
    assert_api_error(again, 400, "essay_marked")


def test_an_instructor_of_another_cohort_cannot_see_the_essay(client, login_as, attempt):
    login_as("instructor")
    response = client.get(f"/api/v1/essays/{attempt['id']}")
    assert_api_error(response, 404, "essay_not_found")
