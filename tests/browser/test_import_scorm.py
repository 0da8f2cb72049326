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
GOLF = {
    "1.2": TESTDATA / "scorm" / "golf_scorm12_RuntimeBasicCalls.zip",
    "2004": TESTDATA / "scorm" / "golf_scorm2004_3rd_RuntimeBasicCalls.zip",
}
ITEM = {
    "1.2": "com-scorm-golfsamples-runtime-basicruntime-12/item-1",
    "2004": "com-scorm-golfsamples-runtime-basicruntime-20043/item-1",  # ids: 48 characters
}
LOCATION = {"1.2": "core.lesson_location", "2004": "location"}

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
def golf_items(site, tmp_path_factory) -> None:
    for version, src in GOLF.items():
        out = tmp_path_factory.mktemp("scorm") / f"golf-{version}.zip"
        _kru(site, "pack", "import", "--open", str(src), "-o", str(out))
        _kru(site, "pack", "install", str(out))


def _wait_for(site_db, sql: str, *params, timeout: float = 30.0) -> list:
    end = time.monotonic() + timeout
    rows: list = []
    while time.monotonic() < end:
        rows = site_db(sql, *params)
        if rows:
            return rows
        time.sleep(0.25)
    return rows


def _location(site_db, version: str, wanted: str) -> list:
    return _wait_for(
        site_db,
        "SELECT data FROM scorm_state WHERE item = ? AND json_extract(data, ?) = ?",
        ITEM[version],
        f'$."{LOCATION[version]}"',
        wanted,
    )


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_the_golf_sco_resumes_after_a_reload_and_its_score_reaches_the_dashboard(
    browser, site, site_db, golf_items, version
):
    item = ITEM[version]
    learner = browser.new_context(base_url=site.url)
    page = learner.new_page()
    dialogs: list[str] = []

    def accept(dialog) -> None:  # "Would you like to resume from where you previously left off?"
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    sign_in(page, "learner1")
    page.goto(f"/learn/items/{item}")
    sco = page.frame_locator("iframe.app")
    sco.locator("#contentFrame[src$='Playing/Playing.html']").wait_for(state="attached")
    for _ in range(3):
        sco.get_by_role("button", name="Next ->").click()
    assert _location(site_db, version, "3"), "the bookmark did not reach the Pi"

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
        item,
    )
    assert rows == [("passed", 1.0)]
    state = json.loads(site_db("SELECT data FROM scorm_state WHERE item = ?", item)[0][0])
    if version == "1.2":
        assert (state["core.lesson_status"], state["core.score.raw"]) == ("passed", "100")
    else:
        assert (state["success_status"], state["score.raw"]) == ("passed", "100")
    learner.close()

    teacher = browser.new_context(base_url=site.url)
    page = teacher.new_page()
    sign_in(page, "instructor")
    page.goto("/teach/cohorts/1")
    row = page.locator("tr", has_text="សុខ ដារា").inner_text()  # learner1
    assert "១០០%" in row.split("\t")  # the SCO's score
    teacher.close()
