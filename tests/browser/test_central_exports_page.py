"""The ministry's export page on a phone in Khmer: filters, Excel, a bad range (issue 21)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from tests.browser.harness import new_phone_context, screenshot_dir
from tests.sync_support import CentralServer


@pytest.fixture(scope="module")
def central(tmp_path_factory) -> Iterator[CentralServer]:
    server = CentralServer(tmp_path_factory.mktemp("exports-central") / "central").start()
    server.cli("user", "add", "--username", "viewer1", "--password", "lotus-pond-7")
    for name, province in (("TEC Takeo", "តាកែវ"), ("TEC Kampot", "កំពត"), ("CTC Kep", "កំពត")):
        server.cli("device", "add", "--name", name, "--province", province, "--url", server.url)
    yield server
    server.stop()


def test_a_ministry_officer_downloads_a_provinces_sites_as_excel(browser, central, tmp_path):
    shots = screenshot_dir(tmp_path / "shots", "central")
    context = new_phone_context(browser, central.url, accept_downloads=True)
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("#username", "viewer1")
        page.fill("#password", "lotus-pond-7")
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()
        page.goto("/exports")
        if page.locator("html").get_attribute("lang") != "km":
            with page.expect_navigation():
                page.locator("header button[name=lang][value=km]").click()
        assert page.locator("h1").inner_text() == "ការនាំចេញ"
        page.select_option("select[name=province]", "កំពត")
        page.screenshot(path=str(shots / "km-exports.png"), full_page=True)
        with page.expect_download() as download:
            page.get_by_role("button", name="ទីតាំង (Excel)").click()
        data = Path(download.value.path()).read_bytes()
        assert download.value.suggested_filename == "kru-sites-កំពត.xlsx"
        rows = list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
        assert sorted(r[1] for r in rows[1:]) == ["CTC Kep", "TEC Kampot"]
        assert {r[2] for r in rows[1:]} == {"កំពត"}

        # A range that ends before it starts comes back to the page with a Khmer message.
        page.fill("input[name=from]", "2026-12-01")
        page.fill("input[name=to]", "2026-11-01")
        page.get_by_role("button", name="ការបញ្ចប់ (Excel)").click()
        page.wait_for_selector(".flash.error")
        assert "ចន្លោះកាលបរិច្ឆេទ" in page.locator(".flash.error").inner_text()
        assert page.input_value("input[name=from]") == "2026-12-01"
        page.screenshot(path=str(shots / "km-exports-bad-range.png"), full_page=True)
    finally:
        context.close()
