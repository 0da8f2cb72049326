"""A ministry officer on a phone in Khmer drills down: province → site → cohort → learner →
transcript (issue 21 item 3), on a real central server fed with signed batches over HTTP."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator

import pytest
import requests

from sync import protocol
from tests.browser.harness import (
    axe_violations,
    horizontal_overflow,
    km,
    new_phone_context,
    screenshot_dir,
)
from tests.central_support import learner_term
from tests.sync_support import CentralServer

SITES = (("TEC Kandal", "កណ្ដាល"), ("TEC Takeo", "តាកែវ"), ("CTC Takeo", "តាកែវ"))


def _send(server: CentralServer, device: dict, batch: protocol.Batch) -> None:
    body = protocol.encode_batch(batch)
    headers = protocol.signed_headers(
        device["secret"],
        "POST",
        protocol.BATCHES_PATH,
        device["device_id"],
        batch.batch_id,
        body,
        batch.clock_ms,
    )
    response = requests.post(
        server.url + protocol.BATCHES_PATH, data=body, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text[:300]


@pytest.fixture(scope="module")
def central(tmp_path_factory) -> Iterator[tuple[CentralServer, list[dict]]]:
    root = tmp_path_factory.mktemp("drilldown-central")
    server = CentralServer(root / "central").start()
    server.cli("user", "add", "--username", "viewer1", "--password", "lotus-pond-7")
    devices = []
    for n, (name, province) in enumerate(SITES):
        path = root / f"site{n}.toml"
        server.cli(
            "device",
            "add",
            "--name",
            name,
            "--province",
            province,
            "--url",
            server.url,
            "-o",
            str(path),
        )
        devices.append(tomllib.loads(path.read_text(encoding="utf-8")))
    # A student teacher who moved from TEC Kandal to CTC Takeo: one national teacher id.
    for n, device in enumerate(devices):
        nid = "NT-2026-0007" if n in (0, 2) else f"NT-{n}"
        _send(server, device, learner_term(device["device_id"], f"learner-{n}", nid))
    yield server, devices
    server.stop()


def _fits(page) -> None:
    """The page needs no sideways scroll on the phone and passes axe's WCAG A/AA rules."""
    assert horizontal_overflow(page) == 0, page.url
    assert axe_violations(page) == {}, page.url


def test_a_ministry_officer_drills_down_to_a_transcript_in_khmer(browser, central, tmp_path):
    server, devices = central
    shots = screenshot_dir(tmp_path / "shots", "central")
    context = new_phone_context(browser, server.url)
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("#username", "viewer1")
        page.fill("#password", "lotus-pond-7")
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()
        if page.locator("html").get_attribute("lang") != "km":
            with page.expect_navigation():
                page.locator("header button[name=lang][value=km]").click()

        with page.expect_navigation():
            page.locator("section.province h3 a", has_text="តាកែវ").click()
        assert page.locator("h1").inner_text() == "តាកែវ"
        assert page.locator("#province-sites section").count() == 2
        _fits(page)
        page.screenshot(path=str(shots / "km-province.png"), full_page=True)

        with page.expect_navigation():
            page.locator("#province-sites a", has_text="CTC Takeo").click()
        assert page.locator("h1").inner_text() == "CTC Takeo"
        assert km("Data as of") in page.locator("#data-as-of").inner_text()
        _fits(page)
        page.screenshot(path=str(shots / "km-site-figures.png"), full_page=True)

        with page.expect_navigation():
            page.locator("#site-figures a", has_text="ក្រុម ក").click()
        row = page.locator('#learners tr[data-learner="learner-2"]')
        assert row.locator('[data-figure="time"]').inner_text() == "១:០៣"  # 3805 s
        assert row.locator('[data-figure="average_score"]').inner_text() == "៩០%"
        _fits(page)
        page.screenshot(path=str(shots / "km-cohort.png"), full_page=True)

        with page.expect_navigation():
            row.locator("a").click()
        assert page.locator("h1").inner_text() == "learner-2"  # names are off: a pseudonym
        assert page.locator("#linked li").count() == 1  # TEC Kandal, by the national id
        _fits(page)
        page.screenshot(path=str(shots / "km-learner.png"), full_page=True)

        with page.expect_navigation():
            page.locator("#transcript-link").click()
        sites = page.locator("section.transcript-site h2")
        assert sites.count() == 2
        assert (
            "CTC Takeo" in sites.nth(0).inner_text() and "TEC Kandal" in sites.nth(1).inner_text()
        )
        total = page.locator('#transcript-total [data-figure="certificates"]')
        assert total.inner_text() == "០"
        _fits(page)
        page.screenshot(path=str(shots / "km-transcript.png"), full_page=True)

        with page.expect_navigation():
            page.locator("header button[name=lang][value=en]").click()
        assert page.locator("h1").inner_text().startswith("Transcript")
        page.screenshot(path=str(shots / "en-transcript.png"), full_page=True)
    finally:
        context.close()
