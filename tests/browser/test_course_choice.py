"""Issue 14 items 9 and 10: the instructor uploads a pack and is one tap from opening or
assigning its course; the cohort dashboard offers every course the cohort can see, keeps the
learner column in view on a phone, numbers its legend like its columns and names its CSV
after the cohort and the course."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from content_packs.demo import SAMPLE
from tests.browser.harness import km, new_phone_context, sign_in
from tests.livesite import KRU

OPEN_COURSE = "classroom-reading/classroom-reading"
TITLE_EN = "Reading with pairs (assigned course)"
TITLE_KM = "ការអានជាគូ"
NEW_COURSE = "reading-pairs/classroom-reading"
KHMER_DIGITS = "០១២៣៤៥៦៧៨៩"


@pytest.fixture(scope="module")
def second_pack(tmp_path_factory) -> str:
    """Build a second pack, whose course is not open to everyone, with ``kru pack build``."""
    root = tmp_path_factory.mktemp("second-pack")
    src = shutil.copytree(SAMPLE, root / "reading-pairs")
    toml = src / "pack.toml"
    text = re.sub(r'(?m)^id = ".*"$', 'id = "reading-pairs"', toml.read_text())
    text = re.sub(r"(?m)^open = true$", "open = false", text)
    text = re.sub(
        r'(\[\[courses\]\]\nslug = "classroom-reading"\n)title_km = ".*"\ntitle_en = ".*"\n',
        rf'\1title_km = "{TITLE_KM}"\ntitle_en = "{TITLE_EN}"\n',
        text,
    )
    toml.write_text(text)
    out = root / "reading-pairs.zip"
    subprocess.run([*KRU, "pack", "build", str(src), "-o", str(out)], check=True, timeout=60)
    return str(out)


def language(page, lang: str) -> None:
    """Switch the page to ``lang`` (the choice is remembered for the account)."""
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation():
            page.locator(f"header button[name=lang][value={lang}]").click()
    assert page.locator("html").get_attribute("lang") == lang


def english(page) -> None:
    language(page, "en")


def watch_result(page) -> None:
    """Record every text #pack-result shows, so a passing state is seen afterwards."""
    page.evaluate(
        """() => {
             window.kruResults = [];
             const box = document.getElementById("pack-result");
             new MutationObserver(() => window.kruResults.push(box.textContent))
               .observe(box, {childList: true, characterData: true, subtree: true});
           }"""
    )


@pytest.fixture(scope="module")
def uploaded(browser, site, second_pack) -> dict:
    """The instructor uploads the second pack on a laptop, in English, and follows "Assign to
    a cohort" (item 10); returns what the pages showed on the way."""
    laptop = new_phone_context(browser, site.url)
    try:
        page = laptop.new_page()
        page.set_viewport_size({"width": 1280, "height": 800})
        sign_in(page, "instructor")
        english(page)
        page.goto("/packs/upload")
        watch_result(page)
        page.set_input_files("#pack-file", second_pack)
        page.get_by_role("button", name="Upload and install").click()
        expect(page.locator("#pack-courses li")).to_have_count(1, timeout=30_000)
        course = page.locator("#pack-courses li")
        shown = {
            "results": page.evaluate("() => window.kruResults"),
            "title": course.locator("strong").inner_text(),
            "open": course.get_by_role("link", name="Open the course").get_attribute("href"),
            "authors": page.locator("#for-authors summary").inner_text(),
            "hint_folded": not page.locator("#for-authors pre").is_visible(),
        }
        with page.expect_navigation():
            course.get_by_role("link", name="Assign to a cohort").click()
        shown["assign_url"] = page.url
        shown["chosen"] = page.locator("#assign-course").input_value()
        with page.expect_navigation():
            page.get_by_role("button", name="Assign", exact=True).click()
        shown["flash"] = page.locator(".flash.success").inner_text()
        return shown
    finally:
        laptop.close()


def test_upload_shows_installing_then_the_course_with_its_next_steps(uploaded):
    assert "Uploaded; installing the pack…" in uploaded["results"]
    assert uploaded["results"][-1] == "Installed reading-pairs 1.0.0."
    assert uploaded["title"] == TITLE_EN
    assert uploaded["open"] == f"/learn/courses/{NEW_COURSE}"
    assert uploaded["authors"] == "For pack authors" and uploaded["hint_folded"]
    # One cohort: "Assign to a cohort" goes straight to its form, the new course chosen.
    assert uploaded["assign_url"].endswith("#assign")
    assert uploaded["chosen"] == NEW_COURSE
    assert uploaded["flash"] == "The course is assigned."


def _cohort_url(site_db) -> str:
    ((cohort,),) = site_db("SELECT id FROM cohorts LIMIT 1")
    return f"/teach/cohorts/{cohort}"


def test_dashboard_offers_the_open_and_the_assigned_course(uploaded, page, site_db):
    sign_in(page, "instructor")
    english(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(_cohort_url(site_db))
    options = page.locator("#course-select option").all_inner_texts()
    assert f"{TITLE_EN} · assigned" in options
    assert "Classroom management for early-grade reading · open to everyone" in options
    assert page.locator("#course-select").input_value() == NEW_COURSE  # assigned comes first
    page.select_option("#course-select", OPEN_COURSE)
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert page.locator("main h2").first.inner_text().startswith("Classroom management")

    with page.expect_download() as info:
        page.get_by_role("link", name="Progress (CSV)").click()
    name = info.value.suggested_filename
    assert name == "Demo-cohort-2026-Classroom-management-for-early-grade-reading-progress.csv"
    rows = list(csv.reader(io.StringIO(info.value.path().read_text(encoding="utf-8-sig"))))
    statuses = {cell for row in rows[1:] for cell in row[4:]}
    assert statuses & {"Not started", "Completed", "In progress"}
    assert not statuses & {"not_started", "completed", "in_progress"}


def test_dashboard_on_a_khmer_phone_keeps_the_learner_column_and_khmer_digits(
    uploaded, page, site_db
):
    sign_in(page, "instructor")
    language(page, "km")
    page.goto(_cohort_url(site_db) + f"?course={OPEN_COURSE}")
    cue = page.locator(".scroll-cue")
    assert cue.is_visible()
    assert km("Slide the table sideways to see every item") in cue.inner_text()
    wrap = page.locator(".matrix-wrap")
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth")  # the items do not fit
    name = page.locator("#matrix tbody th").first
    before = name.bounding_box()["x"]
    wrap.evaluate("w => { w.scrollLeft = 400; }")
    page.wait_for_function("() => document.querySelector('.matrix-wrap').scrollLeft > 0")
    assert abs(name.bounding_box()["x"] - before) < 1  # the learner column stays put
    heads = page.locator("#matrix thead .ct").all_inner_texts()
    legend = page.locator("ol.legend .n").all_inner_texts()
    assert legend == heads
    assert all(ch in KHMER_DIGITS for n in legend for ch in n)
