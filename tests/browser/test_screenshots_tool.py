"""tools/screenshots.py, the one command that regenerates docs/screenshots/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"


def test_tool_writes_small_phone_sized_pngs_in_both_languages(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "screenshots.py"), "--only", "login"]
        + ["--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["en-login.png", "km-login.png"]
    for name in written:
        with Image.open(tmp_path / name) as image:
            assert image.size == (360, 740)
        assert (tmp_path / name).stat().st_size < 100_000


def test_committed_screenshots_cover_each_page_in_khmer_and_english_under_2_mb():
    from tools.screenshots import LANGUAGES, PAGES

    expected = {f"{lang}-{name}.png" for lang in LANGUAGES for name, *_ in PAGES}
    assert {p.name for p in SHOTS.glob("*.png")} == expected
    assert sum(p.stat().st_size for p in SHOTS.glob("*.png")) < 2_000_000


def test_readme_shows_the_screenshots():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = [p.name for p in SHOTS.glob("*.png") if f"docs/screenshots/{p.name}" in readme]
    assert len(linked) >= 4
