"""Issue 14 items 18-19 on a 360 px phone: every header control and item row is at least
44 px high, sign out stands apart from the language switch, underlines clear subscripts."""

from __future__ import annotations

from tests.browser.harness import sign_in

COURSE = "/learn/courses/classroom-reading/classroom-reading"


def test_header_controls_and_item_rows_are_big_enough_to_tap(page):
    sign_in(page, "learner1")
    page.goto(COURSE)
    sizes = page.evaluate(
        """() => [...document.querySelectorAll(
             '.top nav a, .top-tools button, ul.items a')].map(e => ({
               text: e.textContent.trim(), h: e.getBoundingClientRect().height}))"""
    )
    assert len(sizes) >= 5
    small = [s for s in sizes if s["h"] < 44]
    assert small == []


def test_sign_out_stands_apart_from_the_language_switch(page):
    sign_in(page, "learner1")
    page.goto(COURSE)
    gap = page.evaluate(
        """() => {
             const [lang, out] = [...document.querySelectorAll('.top-tools button')];
             return out.getBoundingClientRect().left - lang.getBoundingClientRect().right;
           }"""
    )
    assert gap >= 24


def test_underlines_sit_below_khmer_subscripts(page):
    sign_in(page, "learner1")
    page.goto(COURSE)
    offset = page.evaluate(
        "() => getComputedStyle(document.querySelector('main a')).textUnderlineOffset"
    )
    assert offset not in ("auto", "0px")


def test_breadcrumbs_and_table_links_are_big_enough_to_tap(page, site_db):
    sign_in(page, "instructor")
    ((cohort,),) = site_db("SELECT id FROM cohorts LIMIT 1")
    page.goto(f"/teach/cohorts/{cohort}")
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('main > p:first-child > a, #matrix tbody th a')]
             .map(e => ({text: e.textContent.trim(), h: e.getBoundingClientRect().height}))"""
    )
    assert len(sizes) >= 3
    assert [s for s in sizes if s["h"] < 44] == []
