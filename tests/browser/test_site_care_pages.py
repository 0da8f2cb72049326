"""The Site page's care cards in Chromium: the clock offer, backups to a USB stick (issue 19)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.fake_pi import FakePi

from .harness import km, sign_in, start_demo_site

DEMO_CONTENT = False
UNDER_VOLTAGE = (
    "The Pi did not get enough power (under-voltage or throttling). Change the power supply "
    "for an official Raspberry Pi supply, and use a short, thick cable: a weak supply damages "
    "the SD card."
)


@pytest.fixture(scope="module")
def fake_pi(tmp_path_factory) -> Iterator[FakePi]:
    pi = FakePi(tmp_path_factory.mktemp("fake-pi"))
    yield pi
    pi.unmount()


@pytest.fixture(scope="module")
def site(fake_pi, tmp_path_factory) -> Iterator:
    live = start_demo_site(tmp_path_factory.mktemp("care-site"), content=False, env=fake_pi.env)
    yield live
    live.stop()


def test_clock_offer_appears_when_the_browser_is_ahead_and_sets_the_clock(context, page, fake_pi):
    ahead = datetime.now(UTC) + timedelta(hours=2)
    context.clock.set_system_time(ahead)
    sign_in(page, "admin")
    page.goto("/admin/")
    offer = page.locator("#clock-offer")
    offer.wait_for(state="visible")
    with page.expect_navigation():
        offer.locator("button[type=submit]").click()
    sent = [r for r in fake_pi.requests() if r.startswith("clock-")]
    assert sent, fake_pi.requests()
    assert abs(int(sent[-1].removeprefix("clock-")) - ahead.timestamp()) < 120


def test_no_clock_offer_when_the_browser_agrees_with_the_pi(page):
    sign_in(page, "admin")
    page.goto("/admin/")
    page.wait_for_load_state("load")
    assert page.locator("#clock-offer").is_hidden()


def test_back_up_to_the_stick_from_the_browser(page, fake_pi, site):
    sign_in(page, "admin")
    page.goto("/admin/")
    with page.expect_navigation():
        page.locator("#backup form[data-device=sdz1] button").click()
    with page.expect_navigation():
        page.locator("#backup .stick button.primary").click()
    assert "kru-backup-" in page.locator("#backup").inner_text()
    restore = page.locator("#backup a.button").first
    with page.expect_navigation():
        restore.click()
    assert page.locator("input[name=confirm]").is_visible()
    assert (site.data_dir / "usb-backup.json").exists()


def test_the_power_card_says_change_the_power_supply_in_khmer(page):
    sign_in(page, "admin")  # the demo admin reads English: switch to Khmer
    page.goto("/admin/")
    if page.locator("html").get_attribute("lang") != "km":
        with page.expect_navigation():
            page.locator("header button[name=lang][value=km]").click()
    assert km(UNDER_VOLTAGE) in page.locator("#power").inner_text()
