"""Learner pages kept per language and course (web/layout.py, ``kept_page``; issue 22): the
home, course and lesson pages are rendered once and each request puts in its learner's own
parts. What one learner sees must never reach another's page, and a page must follow the
course, the lesson, the language, flashed messages and the scheme."""

from __future__ import annotations

import re

import pytest

from content_packs.models import Course, Item
from tests.conftest import PASSWORD, csrf_token
from tests.learning_catalog import APP, COURSE, LESSON, ev, post_events

PAGES = ["/learn/", f"/learn/courses/{COURSE}", f"/learn/items/{LESSON}"]


def _signed_in(app, user):
    client = app.test_client()
    response = client.post(
        "/api/v1/session",
        json={"username": user.username, "password": PASSWORD},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200
    return client


def _html(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def two_learners(app, make_user, make_catalog):
    make_catalog(open_course=True)
    first, second = make_user(language="km"), make_user(language="en")
    one, two = _signed_in(app, first), _signed_in(app, second)
    post_events(one, [ev("completed", LESSON), ev("passed", APP, {"score": 0.9})])
    return app, (first, one), (second, two)


@pytest.mark.parametrize("url", PAGES)
def test_a_kept_page_shows_each_learner_only_their_own_parts(two_learners, url):
    app, (first, one), (second, two) = two_learners
    kept = app.extensions["kru_pages"]
    kept.clear()
    first_page = _html(one, url)  # the first learner's request keeps the page
    assert kept, "the page was kept"
    second_page = _html(two, url)  # the second learner's is made from it
    kept.clear()
    assert _html(two, url) == second_page  # ... and is what it would be made afresh
    for page, user in ((first_page, first), (second_page, second)):
        tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', page))
        assert len(tokens) == 1
        assert re.search(rf'<p id="wifi" [^>]*data-user="{user.id}"', page)  # a layout part
        if "/items/" in url:
            assert re.search(rf'<article id="item" [^>]*data-user="{user.id}"', page)
    assert set(re.findall(r'name="csrf_token" value="([^"]+)"', first_page)).isdisjoint(
        re.findall(r'name="csrf_token" value="([^"]+)"', second_page)
    )
    assert ("lang-km" in first_page, "lang-en" in second_page) == (True, True)


def test_each_learner_sees_their_own_progress_on_kept_pages(two_learners):
    app, (_first, one), (_second, two) = two_learners
    app.extensions["kru_pages"].clear()
    for client in (one, two, one):
        _html(client, "/learn/")
    home_one, home_two = _html(one, "/learn/"), _html(two, "/learn/")
    assert 'aria-valuenow="33"' in home_one and 'aria-valuenow="0"' in home_two
    assert "Continue" not in home_one and ">Start: " in home_two
    course_one, course_two = (_html(c, f"/learn/courses/{COURSE}") for c in (one, two))
    assert "st-passed" in course_one and "st-passed" not in course_two
    lesson_one, lesson_two = (_html(c, f"/learn/items/{LESSON}") for c in (one, two))
    assert 'data-status="completed"' in lesson_one and 'data-status="not_started"' in lesson_two
    assert 'id="mark-done" class="big" hidden' in lesson_one
    assert 'id="mark-done" class="big">' in lesson_two


def test_kept_pages_follow_the_lesson_and_the_course_as_they_change(two_learners):
    app, (_first, one), _ = two_learners
    assert "A new heading" not in _html(one, f"/learn/items/{LESSON}")
    Item.update(body="<h2>A new heading</h2><p>Read this.</p>").where(Item.key == LESSON).execute()
    assert "A new heading" in _html(one, f"/learn/items/{LESSON}")
    Course.update(title_km="វគ្គថ្មី", description_km="ការពិពណ៌នាថ្មី").where(
        Course.key == COURSE
    ).execute()
    page = _html(one, f"/learn/courses/{COURSE}")
    assert "វគ្គថ្មី" in page and "ការពិពណ៌នាថ្មី" in page
    assert "វគ្គថ្មី" in _html(one, "/learn/")


def test_a_flashed_message_is_shown_once_and_never_kept(two_learners):
    app, (_first, one), (_second, two) = two_learners
    app.extensions["kru_pages"].clear()
    with one.session_transaction() as session:
        session["_flashes"] = [("success", "Saved <b>now</b>")]
    page = _html(one, "/learn/")
    assert "Saved &lt;b&gt;now&lt;/b&gt;" in page
    assert "Saved" not in _html(one, "/learn/")
    assert "Saved" not in _html(two, "/learn/")


def test_a_kept_page_over_https_has_the_app_parts_and_over_http_not(two_learners):
    app, (_first, one), _ = two_learners
    app.extensions["kru_pages"].clear()
    plain = _html(one, "/learn/")
    secure = one.get("/learn/", base_url="https://localhost")
    assert 'rel="manifest"' not in plain
    assert secure.status_code == 200
    assert 'rel="manifest"' in secure.get_data(as_text=True)
    assert 'rel="manifest"' not in _html(one, "/learn/")


def test_a_slot_name_is_letters_digits_and_underscores(app):
    from edge_server.web.layout import slot

    with app.test_request_context("/"), pytest.raises(ValueError, match="slot"):
        slot("bad-name")


def test_a_lesson_holding_a_stand_in_of_the_layout_or_a_slot_shows_it_as_text(two_learners):
    from edge_server.web import layout

    app, (_first, one), _ = two_learners
    body = "<p>kru-page-slot-status- kru-page-slot-nothing-</p>"
    Item.update(body=body).where(Item.key == LESSON).execute()
    page = _html(one, f"/learn/items/{LESSON}")
    assert "kru-page-slot-status- kru-page-slot-nothing-" in page
    assert layout._SLOT_PREFIX not in page


def test_kept_pages_are_forgotten_when_there_are_too_many_or_they_hold_too_much(app, monkeypatch):
    from edge_server.web import layout

    with app.test_request_context("/"):
        for n in range(layout._PAGES_KEPT + 10):
            layout.kept_page("error.html", {}, n, code=200, message=f"page {n}")
        kept = app.extensions["kru_pages"]
        assert 0 < len(kept) <= layout._PAGES_KEPT
        monkeypatch.setattr(layout, "_PAGES_KEPT_CHARS", 20_000)
        kept.clear()
        for n in range(40):
            html = layout.kept_page("error.html", {}, n, code=200, message="x" * 2000)
            assert html.count("x" * 2000) == 1
        assert 0 < kept.chars <= 20_000 and len(kept) < 40


def test_the_page_language_is_flask_babels_before_and_after_a_change(app, make_user):
    """``page_locale`` reads the language where Flask-Babel keeps it: the same as
    ``get_locale`` for a Khmer and an English reader, and after Flask-Babel's ``refresh``."""
    from flask import session
    from flask_babel import get_locale, refresh

    from edge_server.web.i18n import page_language, page_locale

    with app.test_request_context("/"):
        assert page_locale() == get_locale() and page_language() == "km"  # the site's default
        session["lang"] = "en"
        assert page_language() == "km"  # chosen once per request, as Flask-Babel does
        refresh()
        assert page_locale() == get_locale() and page_language() == "en"
    with app.test_request_context("/"):
        assert page_locale() == get_locale()
    assert page_language() == "km"  # outside a request
