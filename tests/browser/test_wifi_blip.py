"""Journey 2: the Wi-Fi drops while a learner studies; their progress arrives exactly once."""

from __future__ import annotations

import json

from tests.browser.harness import sign_in

LESSON = "/learn/items/classroom-reading/routines-and-rules"
ITEM = "classroom-reading/routines-and-rules"


def queued_ids(page) -> list[str]:
    """Return the ids of the events waiting in the phone's queue (localStorage)."""
    stored = json.loads(page.evaluate("localStorage.getItem('kru.events.v1') || '{}'"))
    return [event["id"] for queue in stored.values() for event in queue]


def study_while_unreachable(page) -> list[str]:
    """Finish the lesson and spend time on it while nothing reaches the server."""
    page.get_by_role("button").and_(page.locator("#mark-done")).click()
    page.clock.run_for(31_000)  # the page reports time spent every 30 s
    ids = queued_ids(page)
    assert len(ids) >= 2, ids  # completed + progressed (time spent), both still queued
    return ids


def events_of(site_db, username: str) -> list[tuple[str, str]]:
    return site_db(
        "SELECT e.id, e.verb FROM events e JOIN users u ON u.id = e.user_id "
        "WHERE u.username = ? AND e.object = ?",
        username,
        ITEM,
    )


def arrived(site_db, username: str) -> set[str]:
    return {event_id for event_id, _verb in events_of(site_db, username)}


def assert_arrived_exactly_once(site_db, username: str, ids: list[str]) -> None:
    rows = events_of(site_db, username)
    stored = [event_id for event_id, _verb in rows]
    for event_id in ids:
        assert stored.count(event_id) == 1, (event_id, rows)
    assert [verb for event_id, verb in rows if event_id in ids].count("completed") == 1
    # ...and the Pi decided the lesson completed once (its decision event)
    assert [verb for _id, verb in rows].count("completed") == 2


def test_events_made_while_the_server_is_down_arrive_once_it_is_back(page, site, site_db):
    page.clock.install()
    sign_in(page, "learner1")
    page.goto(LESSON)
    page.wait_for_function("() => KruEvents.pending() === 0", polling=100)  # "viewed" went through

    site.stop()
    ids = study_while_unreachable(page)
    page.clock.run_for(6_000)  # a retry while the server is down must keep the events
    assert set(ids) <= set(queued_ids(page))
    site.start()
    assert not arrived(site_db, "learner1") & set(ids)

    page.clock.run_for(6_000)  # the queue retries every 5 s
    page.wait_for_function("() => KruEvents.pending() === 0", polling=100)
    assert_arrived_exactly_once(site_db, "learner1", ids)


def test_events_made_while_the_phone_is_offline_arrive_once_back_online(page, context, site_db):
    page.clock.install()
    sign_in(page, "learner2")
    page.goto(LESSON)
    page.wait_for_function("() => KruEvents.pending() === 0", polling=100)

    context.set_offline(True)
    ids = study_while_unreachable(page)
    page.clock.run_for(6_000)  # a retry while offline must keep the events
    assert set(ids) <= set(queued_ids(page))
    assert not arrived(site_db, "learner2") & set(ids)

    context.set_offline(False)  # the "online" event flushes the queue at once
    page.wait_for_function("() => KruEvents.pending() === 0", polling=100)
    assert_arrived_exactly_once(site_db, "learner2", ids)
