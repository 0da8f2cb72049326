"""Issue 18: an imported H5P true/false activity plays in the sandbox, its xAPI result
becomes a Kru event with the score, and the instructor's dashboard shows it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.browser.harness import sign_in
from tests.livesite import KRU

DEMO_CONTENT = False
TESTDATA = Path(
    os.environ.get("KRU_TESTDATA") or Path(__file__).resolve().parents[3] / "shared" / "testdata"
)
H5P_TRUE_FALSE = TESTDATA / "h5p" / "h5p_standalone_truefalse_hello_world.h5p"
PACK = "h5p-standalone-truefalse-hello-world"


def _kru(site, *args: str) -> str:
    done = subprocess.run(
        [*KRU, "--data-dir", str(site.data_dir), *args],
        check=True,
        capture_output=True,
        text=True,
        env=site.env,
        timeout=120,
    )
    return done.stdout


@pytest.fixture(scope="module")
def h5p_item(site, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("h5p") / "tf.zip"
    _kru(site, "pack", "import", "--open", str(H5P_TRUE_FALSE), "-o", str(out))
    _kru(site, "pack", "install", str(out))
    return f"/learn/items/{PACK}/{PACK}"


def _wait_for(site_db, sql: str, *params, timeout: float = 30.0) -> list:
    end = time.monotonic() + timeout
    rows: list = []
    while time.monotonic() < end:
        rows = site_db(sql, *params)
        if rows:
            return rows
        time.sleep(0.25)
    return rows


def test_the_h5p_true_false_plays_and_its_score_reaches_the_dashboard(
    browser, site, site_db, h5p_item
):
    learner = browser.new_context(base_url=site.url)
    page = learner.new_page()
    sign_in(page, "learner1")
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(h5p_item)
    app = page.frame_locator("iframe.app")
    app.get_by_text("False", exact=True).click()
    app.get_by_role("button", name="Check").click()

    rows = _wait_for(
        site_db,
        "SELECT verb, json_extract(result, '$.score') FROM events "
        "WHERE object = ? AND verb IN ('passed', 'failed') "
        "AND coalesce(json_extract(context, '$.decided_by'), '') != 'site'",
        f"{PACK}/{PACK}",
    )
    assert rows == [("passed", 1.0)]
    assert [m for m in console if "CORS" in m] == []  # fonts inline, JSON from the page
    learner.close()

    teacher = browser.new_context(base_url=site.url)
    page = teacher.new_page()
    sign_in(page, "instructor")
    page.goto("/teach/cohorts/1")
    row = page.locator("tr", has_text="សុខ ដារា").inner_text()  # learner1
    assert row.split("\t")[1:3] == ["១០០%", "១០០%"]  # course done, the activity's score
    teacher.close()
