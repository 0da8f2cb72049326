"""Journey 5: pack code cannot act as the learner, and learners cannot open instructor pages."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from tests.browser.harness import km, sign_in
from tests.livesite import KRU
from tests.packs_factory import build_pack, lesson, media

DEMO_CONTENT = False

# An html5 app that tries to read the site's cookies and to use the API with the learner's
# session, then writes what it managed into its own <body> for the test to read.
PROBE_APP = """<!doctype html><meta charset="utf-8"><title>probe</title><p>សួស្តី</p>
<script>
var report = {};
try { report.cookie = document.cookie; } catch (e) { report.cookie = "error:" + e.name; }
try { report.parentCookie = parent.document.cookie; }
catch (e) { report.parentCookie = "error:" + e.name; }
function attempt(url, options) {
  return fetch(url, Object.assign({credentials: "include"}, options))
    .then(function (r) { return r.text().then(function (t) { return r.status + " " + t; }); })
    .catch(function (e) { return "error:" + e.name; });
}
var event = {events: [{id: "%(event_id)s", verb: "completed", object: "probe-pack/lesson-1",
             timestamp: new Date().toISOString()}]};
Promise.all([
  attempt("/api/v1/progress/me"),
  attempt("/api/v1/events", {method: "POST", headers: {"Content-Type": "application/json"},
                             body: JSON.stringify(event)}),
]).then(function (r) {
  report.progress = r[0]; report.events = r[1];
  document.body.setAttribute("data-report", JSON.stringify(report));
});
</script>"""


@pytest.fixture(scope="module")
def probe_event_id(site, tmp_path_factory) -> str:
    """Install a pack whose html5 item is the probe app; return the event id it tries to post."""
    event_id = str(uuid.uuid4())
    html = PROBE_APP % {"event_id": event_id}
    zip_path = build_pack(
        tmp_path_factory.mktemp("probe-pack"),
        pack_id="probe-pack",
        items=[lesson("lesson-1"), media("html5", slug="probe", files={"index.html": html})],
    )
    subprocess.run(
        [*KRU, "--data-dir", str(site.data_dir), "pack", "install", str(zip_path)],
        check=True,
        capture_output=True,
        env=site.env,
        timeout=60,
    )
    return event_id


def open_probe(page) -> dict:
    sign_in(page, "learner1")
    page.goto("/learn/")
    # A cookie the site's own scripts can read, so reading it from the app would show.
    page.evaluate("document.cookie = 'kru_probe=site-only; path=/'")
    page.goto("/learn/items/probe-pack/probe")
    body = page.frame_locator("iframe.app").locator("body[data-report]")
    return json.loads(body.get_attribute("data-report"))


def test_html5_app_cannot_read_the_sites_cookies(page, probe_event_id):
    report = open_probe(page)
    assert report["cookie"] == "error:SecurityError"
    assert report["parentCookie"] == "error:SecurityError"
    assert "kru_probe=site-only" in page.evaluate("document.cookie")


def test_html5_app_cannot_call_the_api_as_the_learner(page, site_db, probe_event_id):
    report = open_probe(page)
    assert "learner1" not in report["progress"] and not report["progress"].startswith("200")
    assert not report["events"].startswith("200")
    assert site_db("SELECT count(*) FROM events WHERE id = ?", probe_event_id) == [(0,)]


def test_learner_opening_an_instructor_page_gets_the_forbidden_page(page):
    sign_in(page, "learner2")
    response = page.goto("/teach/")
    assert response.status == 403
    assert page.locator("main h1").inner_text() == km(
        "You do not have permission to open this page."
    )
    assert "/teach/" in page.url
