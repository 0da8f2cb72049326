"""Journey 3: an instructor, in English, updates the sample pack, assigns it, follows learners."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from content_packs.demo import SAMPLE
from tests.browser.harness import new_phone_context, sign_in
from tests.livesite import KRU

COURSE = "classroom-reading/classroom-reading"
LESSON = "/learn/items/classroom-reading/reading-classroom"


@pytest.fixture(scope="module")
def newer_sample_pack(tmp_path_factory) -> str:
    """Build the sample pack as version 1.1.0 with ``kru pack build``; return the zip's path."""
    root = tmp_path_factory.mktemp("newer-pack")
    src = shutil.copytree(SAMPLE, root / "classroom-reading")
    toml = src / "pack.toml"
    toml.write_text(re.sub(r'(?m)^version = ".*"$', 'version = "1.1.0"', toml.read_text()))
    out = root / "classroom-reading-1.1.0.zip"
    subprocess.run([*KRU, "pack", "build", str(src), "-o", str(out)], check=True, timeout=60)
    return str(out)


@pytest.fixture(scope="module")
def learner_progress(browser, site) -> None:
    """learner1 finishes the first lesson on their phone, as in the learner journey."""
    phone = new_phone_context(browser, site.url)
    try:
        page = phone.new_page()
        sign_in(page, "learner1")
        page.goto(LESSON)
        page.locator("#mark-done").click()
        page.wait_for_function("() => KruEvents.pending() === 0")
    finally:
        phone.close()


def sign_in_english(page) -> None:
    sign_in(page, "instructor")
    if page.locator("html").get_attribute("lang") != "en":
        with page.expect_navigation():
            page.locator("header button[name=lang][value=en]").click()
    assert page.locator("html").get_attribute("lang") == "en"


def test_instructor_updates_assigns_and_follows_the_cohort(
    page, newer_sample_pack, learner_progress
):
    sign_in_english(page)

    page.goto("/packs/upload")
    page.set_input_files("#pack-file", newer_sample_pack)
    page.get_by_role("button", name="Upload and install").click()
    expect(page.locator("#pack-result")).to_have_text(
        "Installed classroom-reading 1.1.0.", timeout=30_000
    )
    assert page.locator(".upload-progress").is_visible()
    assert page.locator("#pack-progress").evaluate("bar => bar.value") == 100
    assert page.locator("#pack-percent").inner_text() == "100%"
    page.goto("/packs/")
    assert "classroom-reading 1.1.0" in page.locator("#installed-packs").inner_text()

    with page.expect_navigation():
        page.get_by_role("link", name="Cohorts").first.click()
    with page.expect_navigation():
        page.locator("main h2 a").first.click()
    page.select_option("#assign-course", COURSE)
    page.fill("#assign-due", "2026-12-31")
    with page.expect_navigation():
        page.get_by_role("button", name="Assign", exact=True).click()
    assert page.locator(".flash.success").inner_text() == "The course is assigned."
    assert page.locator("input[name=due_date][value='2026-12-31']").count() == 1

    row = page.locator("#matrix tr[data-learner=learner1]")
    assert row.locator("td").first.inner_text() != "0%"
    assert row.locator("td.cell").first.get_attribute("data-status") == "completed"
    assert "learner1" not in page.locator("#not-started").inner_text()

    with page.expect_download() as info:
        page.get_by_role("link", name="Progress (CSV)").click()
    download = info.value
    assert download.suggested_filename.endswith("-progress.csv")
    rows = list(csv.reader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
    by_user = {r[0]: r for r in rows[1:]}
    assert rows[0][:3] == ["username", "display_name", "time_s"]
    assert set(by_user) == {f"learner{n}" for n in range(1, 6)}
    assert "Completed" in by_user["learner1"]  # the words of the page, not codes
    assert "Completed" not in by_user["learner2"]
