"""Issue 14 item 5: a new learner is asked to start, not continue; a title is shown once."""

from __future__ import annotations

import re

import pytest

from content_packs.models import Item
from tests.learning_catalog import LESSON, ev, make_catalog, post_events


@pytest.fixture
def learner(app, login_as):
    make_catalog(open_course=True)
    return login_as("learner")


def test_a_brand_new_learner_sees_start(client, learner):
    html = client.get("/learn/").get_data(as_text=True)
    assert re.search(r'id="continue"[^>]*>ចាប់ផ្ដើម: សូមស្វាគមន៍<', html)


def test_a_learner_who_began_sees_continue(client, learner):
    post_events(client, [ev("completed", LESSON)])
    html = client.get("/learn/").get_data(as_text=True)
    assert re.search(r'id="continue"[^>]*>បន្ត: វីដេអូ<', html)


def test_a_lesson_heading_that_repeats_the_title_is_shown_once(client, learner):
    Item.update(body="<h1>សូមស្វាគមន៍</h1><p>Read me.</p>").where(Item.key == LESSON).execute()
    html = client.get("/learn/items/teach101/welcome").get_data(as_text=True)
    assert html.count("សូមស្វាគមន៍</h1>") == 1
    assert "<p>Read me.</p>" in html


def test_a_different_first_heading_is_kept(client, learner):
    Item.update(body="<h1>Other</h1><p>Read me.</p>").where(Item.key == LESSON).execute()
    html = client.get("/learn/items/teach101/welcome").get_data(as_text=True)
    assert "<h1>Other</h1>" in html
