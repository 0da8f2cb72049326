"""What a batch tells the central server about items: the site's own counting rule."""

from __future__ import annotations

from content_packs.models import Item
from edge_server.base.db import db
from sync.edge.batches import read_batch
from tests.learning_catalog import APP, LESSON, PDF, ev, make_catalog, post_events


def _items(after: int = 0) -> dict:
    batch = read_batch(db, device_id="site-test", after=after, limit=100, clock_ms=0)
    assert batch is not None
    return {it.key: (it.course_items, it.counts) for it in batch.items}


def test_items_say_whether_they_count_and_how_many_count_in_their_course(client, login_as):
    make_catalog(open_course=True)
    login_as("learner")
    post_events(client, [ev("viewed", LESSON), ev("viewed", PDF), ev("viewed", APP)])
    # lesson, video and quiz are required; the pdf and the app are optional
    assert _items() == {LESSON: (3, True), PDF: (3, False), APP: (3, False)}


def test_in_a_course_without_required_items_every_item_counts(client, login_as):
    make_catalog(open_course=True)
    Item.update(required=False).execute()
    login_as("learner")
    post_events(client, [ev("viewed", LESSON), ev("viewed", PDF)])
    assert _items() == {LESSON: (5, True), PDF: (5, True)}


def test_an_item_the_site_no_longer_knows_counts_for_nothing(client, login_as):
    make_catalog(open_course=True)
    login_as("learner")
    post_events(client, [ev("viewed", LESSON)])
    Item.delete().where(Item.key == LESSON).execute()
    assert _items() == {LESSON: (0, False)}
