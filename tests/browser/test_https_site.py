"""A site gets its certificate through sync and phones open it over HTTPS (issue 23).

The world (Pebble, BIND, central, the site behind the shipped nginx, Chromium trusting
Pebble's root) is tests/browser/https_world.py's, shared with the offline app's tests.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

from edge_server.base import site_tls
from tests.browser.harness import sign_in
from tests.browser.https_world import NAME, NEEDS_HTTPS_WORLD, phone, queued, stored_ids

LESSON = "/learn/items/classroom-reading/routines-and-rules"
ITEM = "classroom-reading/routines-and-rules"

pytestmark = NEEDS_HTTPS_WORLD


@pytest.fixture(scope="module")
def world(https_world: dict) -> dict:
    return https_world


def test_the_site_opens_over_https_with_no_certificate_error(world: dict) -> None:
    context = phone(world, world["https"])
    page = context.new_page()
    response = page.goto("/login")  # raises on a certificate error
    assert response is not None and response.ok
    assert page.url.startswith(f"https://{NAME}:")
    details = response.security_details()
    assert details is not None and details["subjectName"] == NAME
    assert "Pebble" in details["issuer"]
    sign_in(page, "learner1")
    assert page.evaluate("window.isSecureContext") is True
    context.close()


def test_a_name_other_than_the_sites_gets_no_certificate(world: dict) -> None:
    context = phone(world, world["https"].replace(NAME, "127.0.0.1"))
    with pytest.raises(PlaywrightError):
        context.new_page().goto("/login")
    context.close()


def test_events_queued_on_the_http_origin_are_not_stranded(world: dict) -> None:
    """A phone queued events over HTTP with the server unreachable; HTTPS then arrives."""
    site_home = world["site"].home
    chain = site_tls.TlsPaths.of(site_home).chain
    saved = chain.read_bytes()
    chain.unlink()  # before the certificate arrived: HTTP only
    context = phone(world, world["live"].url)
    page = context.new_page()
    sign_in(page, "learner2")
    # The events endpoint is unreachable from this page (a Wi-Fi blip) while studying.
    page.route(f"{world['live'].url}/api/v1/events", lambda route: route.abort())
    page.goto(LESSON)
    page.locator("#mark-done").click()
    mine = [e["id"] for queue in queued(page).values() for e in queue]
    assert len(mine) >= 2  # viewed and completed, both waiting

    # The certificate arrives at sync; kru-tls-apply puts it into service.
    chain.write_bytes(saved)
    world["front"].apply()
    # Still unreachable on HTTP: the handover must carry the queue to the HTTPS origin.
    with page.expect_navigation(url=f"{world['https']}/**"):
        page.goto("/learn/")
    page.wait_for_url(f"{world['https']}/learn/**")
    assert not page.url.endswith("/login")
    carried = [e["id"] for queue in queued(page).values() for e in queue]
    assert set(mine) <= set(carried)
    # The next lesson page on HTTPS sends them: each arrives once.
    page.goto(world["https"] + LESSON)
    page.wait_for_function("() => KruEvents.pending() === 0", polling=100)
    assert sorted(stored_ids(site_home, mine)) == sorted(mine)
    context.close()


def test_http_page_sends_its_queue_before_moving(world: dict) -> None:
    site_home = world["site"].home
    chain = site_tls.TlsPaths.of(site_home).chain
    saved = chain.read_bytes()
    chain.unlink()
    context = phone(world, world["live"].url)
    page = context.new_page()
    sign_in(page, "learner3")
    blocked = {"on": True}
    page.route(
        f"{world['live'].url}/api/v1/events",
        lambda route: route.abort() if blocked["on"] else route.continue_(),
    )
    page.goto(LESSON)
    mine = [e["id"] for queue in queued(page).values() for e in queue]
    assert mine
    chain.write_bytes(saved)
    world["front"].apply()
    blocked["on"] = False  # the link is back: the HTTP page flushes before it moves
    page.goto("/learn/")
    page.wait_for_url(f"{world['https']}/learn/**")
    assert sorted(stored_ids(site_home, mine)) == sorted(mine)
    context.close()


def test_a_lapsed_certificate_means_http_only(world: dict) -> None:
    front = world["front"]
    chain = site_tls.TlsPaths.of(world["site"].home).chain
    saved = chain.read_bytes()
    chain.unlink()  # as good as lapsed for kru-tls-apply: nothing valid to serve
    try:
        assert "serving HTTP only" in front.apply().stdout
        assert not front.running()
        context = phone(world, world["live"].url)
        page = context.new_page()
        sign_in(page, "learner4")
        page.goto("/learn/")
        assert page.url.startswith(world["live"].url)
        context.close()
    finally:
        chain.write_bytes(saved)
        front.apply()
