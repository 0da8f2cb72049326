"""Issue 18 item 3: an imported SCORM 1.2 golf sample plays in the sandbox with scorm-again,
a learner resumes where they left after a reload, and the test score reaches the
instructor's dashboard."""

from __future__ import annotations

import json
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
GOLF = TESTDATA / "scorm" / "golf_scorm12_RuntimeBasicCalls.zip"
PACK = "com-scorm-golfsamples-runtime-basicruntime-12"
ITEM = f"{PACK}/item-1"

FILL_THE_RIGHT_ANSWERS = """() => {
  document.querySelectorAll(".correctAnswer input[type=radio]")
    .forEach((r) => { r.checked = true; });
  document.querySelectorAll(".correctAnswer input[type=text]").forEach((t) => {
    t.value = /\\((\\d+)\\)/.exec(t.parentNode.textContent)[1];
  });
}"""


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
def golf_item(site, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("scorm") / "golf.zip"
    _kru(site, "pack", "import", "--open", str(GOLF), "-o", str(out))
    _kru(site, "pack", "install", str(out))
    return f"/learn/items/{ITEM}"


def _wait_for(site_db, sql: str, *params, timeout: float = 30.0) -> list:
    end = time.monotonic() + timeout
    rows: list = []
    while time.monotonic() < end:
        rows = site_db(sql, *params)
        if rows:
            return rows
        time.sleep(0.25)
    return rows


def _location(site_db, wanted: str) -> list:
    return _wait_for(
        site_db,
        "SELECT data FROM scorm_state WHERE item = ? "
        "AND json_extract(data, '$.\"core.lesson_location\"') = ?",
        ITEM,
        wanted,
    )


def test_the_golf_sco_resumes_after_a_reload_and_its_score_reaches_the_dashboard(
    browser, site, site_db, golf_item
):
    learner = browser.new_context(base_url=site.url)
    page = learner.new_page()
    dialogs: list[str] = []

    def accept(dialog) -> None:  # "Would you like to resume from where you previously left off?"
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    sign_in(page, "learner1")
    page.goto(golf_item)
    sco = page.frame_locator("iframe.app")
    sco.locator("#contentFrame[src$='Playing/Playing.html']").wait_for(state="attached")
    for _ in range(3):
        sco.get_by_role("button", name="Next ->").click()
    assert _location(site_db, "3"), "the bookmark did not reach the Pi"

    page.reload()
    sco = page.frame_locator("iframe.app")
    sco.locator("#contentFrame[src$='Playing/OtherScoring.html']").wait_for(state="attached")
    assert any("resume" in message for message in dialogs)

    for _ in range(11):  # page 14: the knowledge check
        sco.get_by_role("button", name="Next ->").click()
    check = sco.frame_locator("#contentFrame")
    check.get_by_role("button", name="Submit Answers").wait_for()
    frame = next(f for f in page.frames if f.url.split("?")[0].endswith("assessmenttemplate.html"))
    frame.evaluate(FILL_THE_RIGHT_ANSWERS)
    check.get_by_role("button", name="Submit Answers").click()

    rows = _wait_for(
        site_db,
        "SELECT verb, json_extract(result, '$.score') FROM events "
        "WHERE object = ? AND verb IN ('passed', 'failed') "
        "AND coalesce(json_extract(context, '$.decided_by'), '') != 'site'",
        ITEM,
    )
    assert rows == [("passed", 1.0)]
    state = json.loads(site_db("SELECT data FROM scorm_state WHERE item = ?", ITEM)[0][0])
    assert state["core.lesson_status"] == "passed"
    assert state["core.score.raw"] == "100"
    learner.close()

    teacher = browser.new_context(base_url=site.url)
    page = teacher.new_page()
    sign_in(page, "instructor")
    page.goto("/teach/cohorts/1")
    row = page.locator("tr", has_text="សុខ ដារា").inner_text()  # learner1
    assert row.split("\t")[1:3] == ["១០០%", "១០០%"]  # course done, the SCO's score
    teacher.close()
