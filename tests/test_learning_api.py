"""GET /api/v1/progress/me, /api/v1/courses and /api/v1/courses/<id>: my status per item."""

from __future__ import annotations

from tests.conftest import assert_api_error
from tests.learning_catalog import COURSE, LESSON, QUIZ, RIGHT, ev, post_events


def test_progress_me_has_my_status_per_item(app, client, login_as, make_catalog):
    make_catalog(open_course=True)
    login_as("learner")
    post_events(client, [ev("completed", LESSON), ev("attempted", QUIZ, {"response": RIGHT})])
    course = client.get("/api/v1/progress/me").get_json()["courses"][0]
    items = {i["id"]: i for m in course["modules"] for i in m["items"]}
    assert items[LESSON]["status"] == "completed"
    assert (items[QUIZ]["status"], items[QUIZ]["score"]) == ("passed", 1.0)
    assert course["items_done"] == 2 and course["next_item"] == "teach101/clip"


def test_courses_lists_what_i_may_open(app, client, login_as, make_catalog):
    make_catalog(open_course=True)
    make_catalog(open_course=False, pack="closed")
    login_as("learner")
    listed = [c["id"] for c in client.get("/api/v1/courses").get_json()["courses"]]
    assert listed == [COURSE]


def test_a_course_has_modules_and_items_with_my_status(app, client, login_as, make_catalog):
    make_catalog(open_course=True)
    login_as("learner")
    body = client.get(f"/api/v1/courses/{COURSE}").get_json()
    assert [m["id"] for m in body["modules"]] == ["teach101/m1", "teach101/m2"]
    assert {i["status"] for m in body["modules"] for i in m["items"]} == {"not_started"}


def test_a_course_not_mine_is_not_found(app, client, login_as, make_catalog):
    make_catalog(open_course=False)
    login_as("learner")
    assert_api_error(client.get(f"/api/v1/courses/{COURSE}"), 404, "course_not_found")


def test_progress_me_needs_sign_in(app, client):
    assert_api_error(client.get("/api/v1/progress/me"), 401)


def test_a_learner_lists_only_their_own_cohorts(app, client, login_as, make_cohort):
    user = login_as("learner")
    mine = make_cohort(learners=[user])
    make_cohort()
    assert [c["id"] for c in client.get("/api/v1/cohorts").get_json()["cohorts"]] == [mine.id]
