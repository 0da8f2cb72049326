"""A local run of the browser tests leaves docs/screenshots/ as committed.

Every test that photographs a page asks ``tests.browser.harness.screenshot_dir`` where to put
the picture: the committed folder only when ``KRU_SCREENSHOTS`` is set, else pytest's tmp dir.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.harness import COMMITTED_SCREENSHOTS, SCREENSHOTS_ENV, screenshot_dir

ROOT = Path(__file__).resolve().parents[1]
# Reads the committed pictures (names, sizes, README links) and writes none.
READS_ONLY = {"tests/browser/test_screenshots_tool.py"}
HELPER = "tests/browser/harness.py"
DOCS_PATH = re.compile(r"""["']screenshots["']|["']docs/screenshots""")


def _modules() -> list[Path]:
    return sorted(p for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name)


def test_pictures_go_to_the_tmp_dir_unless_asked_for(tmp_path, monkeypatch):
    monkeypatch.delenv(SCREENSHOTS_ENV, raising=False)
    assert screenshot_dir(tmp_path, "central") == tmp_path / "central"
    assert (tmp_path / "central").is_dir()
    monkeypatch.setenv(SCREENSHOTS_ENV, "")
    assert screenshot_dir(tmp_path) == tmp_path


@pytest.mark.parametrize("value", ["1", "yes"])
def test_pictures_go_to_docs_screenshots_when_asked_for(tmp_path, monkeypatch, value):
    monkeypatch.setenv(SCREENSHOTS_ENV, value)
    assert screenshot_dir(tmp_path, "central") == ROOT / "docs" / "screenshots" / "central"
    assert COMMITTED_SCREENSHOTS == ROOT / "docs" / "screenshots"
    assert not (tmp_path / "central").exists()


def test_every_test_that_takes_a_screenshot_asks_the_helper_where():
    takers = [p for p in _modules() if ".screenshot(" in p.read_text(encoding="utf-8")]
    assert takers, "no test takes a screenshot: the check below would prove nothing"
    unasked = [
        str(p.relative_to(ROOT)) for p in takers if "screenshot_dir(" not in p.read_text("utf-8")
    ]
    assert unasked == []


def test_no_test_module_names_the_committed_folder_but_the_helper():
    naming = {
        str(p.relative_to(ROOT))
        for p in _modules()
        if DOCS_PATH.search(p.read_text(encoding="utf-8"))
    }
    assert naming - READS_ONLY == {HELPER}
    for module in READS_ONLY:
        assert ".screenshot(" not in (ROOT / module).read_text(encoding="utf-8")
