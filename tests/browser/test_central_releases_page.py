"""Central's "Kru on each site" table on a Khmer phone (360 px): readable without scrolling
sideways, each site a short block, the reason of a rollback in full.

A real central server with three provisioned sites, one of which reported a rollback (its
report is what a Pi sends at sync)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_server.base.settings import load_settings
from tests.bundle_factory import release_keys_dir
from tests.sync_support import CentralServer, make_site
from tools.screenshots_releases import signed_release

from .harness import horizontal_overflow, km, new_phone_context, sign_in

DEMO_CONTENT = False
REASON = (
    "Kru 0.2.0 did not answer /healthz within 180 s; rolled back to 0.1.0; "
    "3 events recorded after the switch carried back"
)


@pytest.fixture(scope="module")
def central(tmp_path_factory) -> Iterator[CentralServer]:
    from sync.central import releases as central_releases
    from sync.central.db import open_central
    from sync.central.models import Device

    tmp: Path = tmp_path_factory.mktemp("releases-central")
    server = CentralServer(tmp / "central")
    server.env["KRU_CENTRAL_RELEASE_KEYS_DIR"] = str(release_keys_dir(tmp))
    for version in ("0.1.0", "0.2.0"):
        server.cli("release", "add", str(signed_release(tmp, version)))
    for name in ("kandal-ctc", "kandal-tec", "takeo-ctc"):
        server.provision(make_site(tmp, name), province=name.split("-")[0].title())
    server.cli("release", "assign", "0.1.0", "--all")
    server.cli("release", "assign", "0.2.0", "--province", "Kandal")
    server.cli(
        "user", "add", "--username", "ministry", "--password", "mekong-2026", "--role", "admin"
    )
    reports = {
        "kandal-ctc": {
            "running": "0.1.0",
            "version": "0.2.0",
            "state": "failed",
            "code": "health_failed",
            "reason": REASON,
        },
        "kandal-tec": {"running": "0.2.0", "version": "0.2.0", "state": "installed"},
        "takeo-ctc": {"running": "0.1.0", "version": "0.1.0", "state": "installed"},
    }
    db = open_central(load_settings(None, overrides={"data_dir": str(tmp / "central")}))
    try:
        for device in Device.select():
            central_releases.record_report(device, {"release": reports[device.name]})
    finally:
        db.close()
    server.start()
    yield server
    server.stop()


def test_kru_on_each_site_reads_on_a_khmer_phone_without_scrolling_sideways(
    browser, central
) -> None:
    context = new_phone_context(browser, central.url)
    try:
        page = context.new_page()
        sign_in(page, "ministry", "mekong-2026")
        page.goto("/fleet/releases")
        if page.locator("html").get_attribute("lang") != "km":
            with page.expect_navigation():
                page.locator("header button[name=lang][value=km]").click()
        page.evaluate("document.fonts.ready.then(() => true)")
        table = page.locator("#fleet-releases")
        assert horizontal_overflow(page) == 0
        # The table itself fits its card: nothing hides to the right of a scroll box.
        fits = table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth + 1")
        assert fits, table.evaluate("t => [t.scrollWidth, t.parentElement.clientWidth]")
        rows = table.locator("tbody tr")
        assert rows.count() == 3
        failed = rows.filter(has_text="kandal-ctc")
        text = failed.inner_text()
        assert REASON in text
        assert km("The new version did not answer its health check; the Pi went back") in text
        # Each cell says what it is (the column headings are not beside it on a phone).
        labels = failed.locator("td[data-label]").evaluate_all(
            "tds => tds.map(td => getComputedStyle(td, '::before').content)"
        )
        assert labels == [f'"{km(w)}៖ "' for w in ("Runs", "Assigned", "State", "Reason")]
        # A site is a short block: the reason runs the card's width, not a word per line.
        height = failed.bounding_box()["height"]
        assert height < 420, height
        reason = failed.locator("td.reason").bounding_box()
        assert reason["width"] > 250, reason
    finally:
        context.close()
