"""The Content-Security-Policy breaks nothing: Chromium walks the main pages of the site and
of the central server, as each role, and reports no violation (issue 12).

An html5 app with an inline script, its own script and style files and an image runs in its
sandboxed iframe and tells the page it is finished, as apps do.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.harness import ITEM, MAIN_PAGES, new_phone_context, sign_in
from tests.livesite import KRU
from tests.packs_factory import PNG_1PX, build_pack, lesson, media
from tests.sync_support import CentralServer

APP_HTML = """<!doctype html><meta charset="utf-8"><title>app</title>
<link rel="stylesheet" href="style.css"><img src="dot.png" alt="">
<p id="out">សួស្តី</p><script src="app.js"></script>
<script>document.getElementById("out").setAttribute("data-inline", "ran");
parent.postMessage({kru: "completed"}, "*");</script>"""

PAGES = [
    *MAIN_PAGES,
    ("learner1", ITEM + "reading-corner-plan"),
    ("learner1", ITEM + "reading-tracker"),
    ("learner1", "/search?q=អាន"),
    ("learner1", "/learn/items/csp-pack/game"),
    ("instructor", "/teach/cohorts/1/learners/3"),
    ("admin", "/admin/cohorts"),
    ("admin", "/admin/users/3"),
    (None, "/no-such-page"),
]


def _watch(page: Any) -> list[str]:
    """Collect CSP violations on ``page`` (and its frames) from events and the console."""
    found: list[str] = []
    page.on(
        "console",
        lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.add_init_script(
        """document.addEventListener("securitypolicyviolation", e => {
             (window.__csp = window.__csp || []).push(e.violatedDirective + " " + e.blockedURI);
           });"""
    )
    return found


@pytest.fixture(scope="module")
def app_pack(site, tmp_path_factory) -> None:
    zip_path = build_pack(
        tmp_path_factory.mktemp("csp-pack"),
        pack_id="csp-pack",
        items=[
            lesson("intro"),
            media(
                "html5",
                slug="game",
                files={
                    "index.html": APP_HTML,
                    "app.js": 'document.body.setAttribute("data-file-script", "ran");',
                    "style.css": "p { color: #114; }",
                    "dot.png": PNG_1PX,
                },
            ),
        ],
    )
    subprocess.run(
        [*KRU, "--data-dir", str(site.data_dir), "pack", "install", str(zip_path)],
        check=True,
        capture_output=True,
        env=site.env,
        timeout=60,
    )


@pytest.fixture(scope="module")
def states(browser, site) -> Any:
    """Sign each demo user in once (sign-in is rate limited); reuse their cookies."""
    kept: dict[str, dict] = {}

    def state_for(username: str | None) -> dict | None:
        if username is None:
            return None
        if username not in kept:
            context = new_phone_context(browser, site.url)
            try:
                sign_in(context.new_page(), username)
                kept[username] = context.storage_state()
            finally:
                context.close()
        return kept[username]

    return state_for


@pytest.mark.parametrize(("user", "path"), PAGES, ids=[f"{u or 'anonymous'}:{p}" for u, p in PAGES])
def test_site_pages_have_a_policy_and_no_violation(browser, site, states, app_pack, user, path):
    context = new_phone_context(browser, site.url, storage_state=states(user))
    try:
        page = context.new_page()
        console = _watch(page)
        response = page.goto(path)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        events = page.evaluate("window.__csp || []")
    finally:
        context.close()
    assert events == [] and console == [], (events, console)


def test_the_html5_app_runs_its_scripts_and_reports_completion(browser, site, states, app_pack):
    context = new_phone_context(browser, site.url, storage_state=states("learner4"))
    try:
        page = context.new_page()
        console = _watch(page)
        page.goto("/learn/items/csp-pack/game")
        frame = page.frame_locator("iframe.app")
        assert frame.locator("#out").get_attribute("data-inline") == "ran"
        assert frame.locator("body").get_attribute("data-file-script") == "ran"
        page.wait_for_selector("#mark-done[hidden]", state="attached")  # completion arrived
        events = page.evaluate("window.__csp || []")
    finally:
        context.close()
    assert events == [] and console == [], (events, console)


@pytest.fixture(scope="module")
def central(tmp_path_factory) -> Iterator[CentralServer]:
    server = CentralServer(tmp_path_factory.mktemp("csp-central") / "central").start()
    server.cli("user", "add", "--username", "viewer1", "--password", "lotus-pond-7")
    yield server
    server.stop()


@pytest.mark.parametrize("path", ["/", "/no-such-page"])
def test_central_pages_have_a_policy_and_no_violation(browser, central, path):
    context = new_phone_context(browser, central.url)
    try:
        page = context.new_page()
        console = _watch(page)
        page.goto("/login")
        page.fill("#username", "viewer1")
        page.fill("#password", "lotus-pond-7")
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()
        response = page.goto(path)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        events = page.evaluate("window.__csp || []")
    finally:
        context.close()
    assert events == [] and console == [], (events, console)
