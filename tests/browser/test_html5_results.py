"""An html5 app reports failed, then passed with a score; the Pi records both and decides passed."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.browser.harness import sign_in
from tests.livesite import KRU
from tests.packs_factory import build_pack, lesson, media
from tests.sync_support import wait_until

DEMO_CONTENT = False
ITEM = "result-pack/game"

# The app scores the learner twice: a first try that fails, a second that passes. It says
# so twice over, as apps often do; the page records each result once.
GAME = """<!doctype html><meta charset="utf-8"><title>game</title><p>ល្បែង</p>
<script>
parent.postMessage({kru: "failed", score: 0.4}, "*");
parent.postMessage({kru: "failed", score: 0.4}, "*");
setTimeout(function () {
  parent.postMessage({kru: "passed", score: 0.8}, "*");
  parent.postMessage({kru: "passed", score: 0.8}, "*");
  parent.postMessage({kru: "passed", score: 7}, "*");
  document.body.setAttribute("data-sent", "yes");
}, 300);
</script>"""


@pytest.fixture(scope="module")
def game(site, tmp_path_factory) -> None:
    zip_path = build_pack(
        tmp_path_factory.mktemp("result-pack"),
        pack_id="result-pack",
        items=[lesson("intro"), media("html5", slug="game", files={"index.html": GAME})],
    )
    subprocess.run(
        [*KRU, "--data-dir", str(site.data_dir), "pack", "install", str(zip_path)],
        check=True,
        capture_output=True,
        env=site.env,
        timeout=60,
    )


def test_an_html5_app_can_report_passed_with_a_score(page, site_db, game):
    sign_in(page, "learner1")
    page.goto(f"/learn/items/{ITEM}")
    page.frame_locator("iframe.app").locator("body[data-sent=yes]").wait_for()

    def recorded() -> bool:
        results = site_db(
            "SELECT count(*) FROM events WHERE object = ? AND verb IN ('passed', 'failed')", ITEM
        )
        return results == [(5,)]  # three results sent by the page, two decisions by the Pi

    wait_until(recorded, timeout=20)
    ((score,),) = site_db("SELECT score FROM progress WHERE item = ?", ITEM)
    assert score == 0.8
    sent = site_db(
        "SELECT verb, result FROM events WHERE object = ? AND verb IN ('passed', 'failed') "
        "AND context IS NULL ORDER BY seq",
        ITEM,
    )
    assert [(verb, json.loads(result).get("score")) for verb, result in sent] == [
        ("failed", 0.4),
        ("passed", 0.8),
        ("passed", None),  # a score outside 0..1 is left out, the result kept
    ]
    decided = site_db(
        "SELECT verb FROM events WHERE object = ? AND context LIKE '%decided_by%' ORDER BY seq",
        ITEM,
    )
    assert decided == [("failed",), ("passed",)]
