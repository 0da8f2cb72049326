"""Issue 14 item 3: an empty quiz attempt is refused and uses no attempt; a passed quiz
lists past attempts and keeps its form behind "Try again"."""

from __future__ import annotations

import re

import pytest

from edge_server.learning.models import Progress
from tests.conftest import assert_api_error, form_csrf
from tests.learning_catalog import QUIZ, RIGHT, ev, make_catalog, post_events

PAGE = "/learn/items/teach101/check"


@pytest.fixture
def learner(app, login_as):
    make_catalog(open_course=True)
    return login_as("learner")


def attempts_used() -> int:
    row = Progress.get_or_none(Progress.item == QUIZ)
    return row.attempts if row else 0


@pytest.mark.parametrize("response", [{}, {"q1": ""}, {"q2": []}, {"q1": "  ", "q2": [""]}])
def test_an_empty_attempt_is_refused_and_uses_no_attempt(client, learner, response):
    answer = post_events(client, [ev("attempted", QUIZ, {"response": response})])
    error = assert_api_error(answer, 400, "empty_attempt")
    assert error["index"] == 0
    assert attempts_used() == 0


def test_an_empty_quiz_form_is_sent_back_with_a_message(client, learner):
    page = client.get(PAGE).get_data(as_text=True)
    attempt = re.search(r'name="attempt_id" value="([^"]+)"', page).group(1)
    data = {"csrf_token": form_csrf(page), "attempt_id": attempt, "q-q1": " "}
    response = client.post(f"{PAGE}/attempts", data=data, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.request.path == PAGE
    assert "សូមឆ្លើយសំណួរយ៉ាងហោចណាស់មួយ" in html
    assert attempts_used() == 0


def test_a_passed_quiz_lists_attempts_and_folds_its_form(client, learner):
    post_events(client, [ev("attempted", QUIZ, {"response": RIGHT})])  # 1 of 2 attempts
    html = client.get(PAGE).get_data(as_text=True)
    past = re.findall(r'<li><a href="/learn/items/teach101/check/attempts/[^"]+">([^<]+)</a>', html)
    assert past == ["ការសាកល្បងលើកទី ១"]
    assert re.search(
        r'<details class="retry"><summary class="button">[^<]+</summary>\s*<form', html
    )


def test_an_unpassed_quiz_shows_its_form_open(client, learner):
    html = client.get(PAGE).get_data(as_text=True)
    assert '<details class="retry">' not in html
    assert 'id="quiz"' in html
