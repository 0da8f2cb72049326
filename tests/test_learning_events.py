"""POST /api/v1/events: validation, idempotence, all-or-nothing batches, CSRF, grading."""

from __future__ import annotations

import json

import pytest

from edge_server.learning.models import Event, Progress
from tests.conftest import api_headers, assert_api_error, csrf_token
from tests.learning_catalog import (
    LESSON,
    PDF,
    QUIZ,
    RIGHT,
    VIDEO,
    WRONG,
    ev,
    make_catalog,
    post_events,
)


@pytest.fixture
def learner(app, login_as, make_cohort):
    make_catalog(open_course=True)
    return login_as("learner")


def test_a_batch_is_stored_with_phone_and_pi_clocks(client, learner):
    sent = ev("viewed", LESSON)
    response = post_events(client, [sent])
    assert response.get_json() == {"accepted": 1, "duplicates": 0}
    stored = Event.get(Event.id == sent["id"])
    assert stored.user_id == learner.id
    assert stored.client_ts == sent["timestamp"]
    assert stored.server_ts.startswith("20") and stored.boot_id


def test_sending_the_same_event_again_is_a_duplicate(client, learner):
    batch = [ev("progressed", VIDEO, {"duration_s": 40, "completion": 0.5})]
    post_events(client, batch)
    again = post_events(client, batch)
    assert again.get_json() == {"accepted": 0, "duplicates": 1}
    assert Event.select().count() == 1
    row = Progress.get(Progress.item == VIDEO)
    assert row.time_s == 40  # counted once


def test_an_event_twice_in_one_batch_counts_once(client, learner):
    one = ev("progressed", VIDEO, {"duration_s": 10})
    response = post_events(client, [one, dict(one)])
    assert response.get_json() == {"accepted": 1, "duplicates": 1}


def test_a_batch_with_one_bad_event_stores_nothing_and_names_its_index(client, learner):
    batch = [ev("viewed", LESSON), ev("progressed", VIDEO, {"completion": 1.7}), ev("viewed", PDF)]
    error = assert_api_error(post_events(client, batch), 400, "invalid_event")
    assert error["index"] == 1
    assert "completion" in error["message"]
    assert Event.select().count() == 0
    assert Progress.select().count() == 0


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"id": "not-a-uuid"}, "invalid_id"),
        ({"verb": "liked"}, "invalid_verb"),
        ({"object": 42}, "invalid_event"),
        ({"timestamp": "yesterday"}, "invalid_event"),
        ({"result": {"score": -0.1}}, "invalid_event"),
        ({"result": {"stars": 5}}, "invalid_event"),
        ({"actor": "someone"}, "invalid_event"),
        ({"object": "teach101/nothing-here"}, "unknown_item"),
        ({"verb": "passed"}, "invalid_verb"),
    ],
)
def test_invalid_events_are_rejected_with_a_stable_code(client, learner, change, code):
    bad = {**ev("viewed", LESSON), **change}
    error = assert_api_error(post_events(client, [ev("viewed", LESSON), bad]), 400, code)
    assert error["index"] == 1
    assert Event.select().count() == 0


@pytest.mark.parametrize("body", [{}, {"events": []}, {"events": "x"}, [1, 2]])
def test_a_body_without_an_event_list_is_rejected(client, learner, body):
    response = client.post("/api/v1/events", json=body, headers=api_headers(client))
    assert_api_error(response, 400, "invalid_batch")


def test_more_than_200_events_in_a_batch_are_rejected(client, learner):
    batch = [ev("progressed", LESSON, {"duration_s": 1}) for _ in range(201)]
    assert_api_error(post_events(client, batch), 400, "invalid_batch")


def test_the_csrf_token_may_come_in_the_body_for_send_beacon(client, learner):
    token = csrf_token(client)
    body = json.dumps({"events": [ev("viewed", LESSON)], "csrf_token": token})
    response = client.post("/api/v1/events", data=body, content_type="text/plain;charset=UTF-8")
    assert response.get_json() == {"accepted": 1, "duplicates": 0}


def test_events_without_a_csrf_token_are_refused(client, learner):
    response = client.post("/api/v1/events", json={"events": [ev("viewed", LESSON)]})
    assert_api_error(response, 400, "csrf_failed")
    assert Event.select().count() == 0


def test_events_with_a_wrong_csrf_token_are_refused(client, learner):
    body = {"events": [ev("viewed", LESSON)], "csrf_token": "forged"}
    assert_api_error(client.post("/api/v1/events", json=body), 400, "csrf_failed")


def test_events_need_a_signed_in_user(app, client):
    make_catalog(open_course=True)
    response = client.post(
        "/api/v1/events", json={"events": [ev("viewed", LESSON)]}, headers=api_headers(client)
    )
    assert_api_error(response, 401, "unauthorized")


def test_a_learner_cannot_send_events_for_a_course_not_theirs(app, client, login_as):
    make_catalog(open_course=False)
    login_as("learner")
    error = assert_api_error(post_events(client, [ev("viewed", LESSON)]), 400, "unknown_item")
    assert error["index"] == 0


def test_a_quiz_attempt_is_graded_on_the_server_not_by_the_client(client, learner):
    claim = ev("attempted", QUIZ, {"score": 1.0, "response": WRONG})
    body = post_events(client, [claim]).get_json()
    assert body["graded"][0]["score"] == 0.0 and body["graded"][0]["success"] is False
    row = Progress.get(Progress.item == QUIZ)
    assert (row.status, row.score) == ("failed", 0.0)


def test_right_answers_pass_the_quiz(client, learner):
    post_events(client, [ev("attempted", QUIZ, {"response": RIGHT})])
    row = Progress.get(Progress.item == QUIZ)
    assert (row.status, row.score, row.attempts) == ("passed", 1.0, 1)


def test_a_client_cannot_declare_a_quiz_passed(client, learner):
    response = post_events(client, [ev("passed", QUIZ, {"score": 1.0})])
    assert_api_error(response, 400, "graded_on_server")
    assert Progress.select().count() == 0


def test_attempts_beyond_the_limit_are_refused(client, learner):
    post_events(client, [ev("attempted", QUIZ, {"response": WRONG})])
    post_events(client, [ev("attempted", QUIZ, {"response": WRONG})])
    error = assert_api_error(
        post_events(client, [ev("attempted", QUIZ, {"response": RIGHT})]), 409, "attempts_exhausted"
    )
    assert "អ្នកបានប្រើអស់ 2 ដងសាកល្បង" in error["message"]  # Khmer by default
    assert Progress.get(Progress.item == QUIZ).status == "failed"


def test_an_answer_of_the_wrong_shape_is_refused(client, learner):
    response = post_events(client, [ev("attempted", QUIZ, {"response": {"q2": {"x": 1}}})])
    assert assert_api_error(response, 400, "invalid_response")["index"] == 0


def test_resending_a_graded_attempt_does_not_use_another_attempt(client, learner):
    attempt = ev("attempted", QUIZ, {"response": WRONG})
    post_events(client, [attempt])
    post_events(client, [attempt])
    assert Progress.get(Progress.item == QUIZ).attempts == 1
