"""Khmer pages show no English UI text: every message on them went through the Khmer catalog."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.browser.harness import MAIN_PAGES, sign_in

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools.i18n_check import extracted

# Beyond each role's main page (issue 14): a learner's detail, the admin's other pages.
PAGES = MAIN_PAGES + [
    ("instructor", "/teach/cohorts/1/learners/{learner1}"),
    ("admin", "/admin/cohorts"),
    ("admin", "/admin/cohorts/1"),
    ("admin", "/admin/users/new"),
    ("admin", "/admin/users/{learner1}"),  # the password reset with "Make up a password"
    ("instructor", "/teach/?assign=classroom-reading/classroom-reading"),
]


def english_fragments() -> list[str]:
    """Return the fixed parts of the UI's English messages long enough not to match by chance."""
    parts = set()
    for msgid in extracted():
        for part in re.split(r"%\(\w+\)s|%s", msgid):
            part = part.strip(" .:,;()")
            if len(part) >= 10 and " " in part:
                parts.add(part)
    return sorted(parts)


@pytest.fixture(scope="module")
def fragments() -> list[str]:
    return english_fragments()


@pytest.mark.parametrize(("user", "path"), PAGES, ids=[f"{u}:{p}" for u, p in PAGES])
def test_khmer_page_has_no_english_ui_text(page, site_db, fragments, user, path):
    if "{learner1}" in path:
        ((learner_id,),) = site_db("SELECT id FROM users WHERE username = 'learner1'")
        path = path.format(learner1=learner_id)
    if user:
        sign_in(page, user)
    page.goto(path)
    if page.locator("html").get_attribute("lang") != "km":  # the demo admin reads English
        with page.expect_navigation():
            page.locator("header button[name=lang][value=km]").click()
    text = page.locator("body").inner_text()
    assert [f for f in fragments if f in text] == []


def test_check_finds_english_text_on_an_english_page(page, fragments):
    sign_in(page, "instructor")
    with page.expect_navigation():
        page.locator("header button[name=lang][value=en]").click()
    page.goto("/packs/upload")
    text = page.locator("body").inner_text()
    assert "Install even if it is an older version" in [f for f in fragments if f in text]
