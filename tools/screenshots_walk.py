"""Regenerate docs/screenshots/walk/: issue 14 items 9-15 at 360 px in Khmer, 1280 px in English.

    .venv/bin/python tools/screenshots_walk.py

The pages the experience walk changed, each after the step that shows it (an upload,
Sync now, an import), beside the tool's own set."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from content_packs.demo import SAMPLE  # noqa: E402
from tests.browser.harness import launch_chromium, new_phone_context, sign_in, start_demo_site  # noqa: E402
from tests.livesite import KRU  # noqa: E402
from tools.screenshots import _study_a_little, save_png  # noqa: E402

OUT = ROOT / "docs" / "screenshots" / "walk"
SIZES = {"km": {"width": 360, "height": 740}, "en": {"width": 1280, "height": 800}}
LOCALES = {"km": "km-KH", "en": "en-GB"}


def build_pack(tmp: Path) -> str:
    src = shutil.copytree(SAMPLE, tmp / "reading-pairs")
    toml = src / "pack.toml"
    text = re.sub(r'(?m)^id = ".*"$', 'id = "reading-pairs"', toml.read_text())
    text = re.sub(r"(?m)^open = true$", "open = false", text)
    text = re.sub(
        r'(\[\[courses\]\]\nslug = "classroom-reading"\n)title_km = ".*"\ntitle_en = ".*"\n',
        r'\1title_km = "ការអានជាគូ"\ntitle_en = "Reading in pairs"\n',
        text,
    )
    toml.write_text(text)
    out = tmp / "reading-pairs.zip"
    # our own kru command on the sample pack copied above
    subprocess.run(  # noqa: S603
        [*KRU, "pack", "build", str(src), "-o", str(out)], check=True, timeout=60
    )
    return str(out)


def lang(page, code: str) -> None:
    if page.locator("html").get_attribute("lang") != code:
        with page.expect_navigation():
            page.locator(f"header button[name=lang][value={code}]").click()


def shot(page, name: str, code: str, full: bool = False) -> None:
    page.evaluate("document.fonts.ready.then(() => true)")
    path = OUT / f"{code}-{name}.png"
    size = save_png(page.screenshot(animations="disabled", full_page=full), path)
    print(path, size // 1024, "KB")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kru-walk-") as tmp:
        site = start_demo_site(Path(tmp))
        pack = build_pack(Path(tmp))
        try:
            with sync_playwright() as pw:
                browser = launch_chromium(pw)
                _study_a_little(browser, site.url)
                for code in ("km", "en"):
                    ctx = new_phone_context(browser, site.url, locale=LOCALES[code])
                    page = ctx.new_page()
                    page.set_viewport_size(SIZES[code])
                    sign_in(page, "instructor")
                    lang(page, code)
                    page.goto("/packs/upload")
                    page.set_input_files("#pack-file", pack)
                    page.locator("#pack-upload button[type=submit]").click()
                    expect(page.locator("#pack-courses li")).to_have_count(1, timeout=30_000)
                    page.locator("#for-authors summary").click()
                    shot(page, "pack-uploaded", code)
                    if code == "km":
                        with page.expect_navigation():
                            page.locator("#pack-courses a").nth(1).click()
                        with page.expect_navigation():
                            page.locator("#assign button[type=submit]").click()
                    page.goto("/teach/cohorts/1?course=classroom-reading/classroom-reading")
                    page.locator("#course-choice").scroll_into_view_if_needed()
                    shot(page, "cohort-dashboard", code)
                    if code == "km":
                        page.locator(".matrix-wrap").evaluate("w => { w.scrollLeft = 300; }")
                        shot(page, "cohort-dashboard-scrolled", code)
                    ctx.close()

                    ctx = new_phone_context(browser, site.url, locale=LOCALES[code])
                    page = ctx.new_page()
                    page.set_viewport_size(SIZES[code])
                    sign_in(page, "admin")
                    lang(page, code)
                    page.goto("/admin/")
                    with page.expect_navigation():
                        page.locator("#sync button[type=submit]").click()
                    page.locator("#sync").scroll_into_view_if_needed()
                    shot(page, "sync-card", code)
                    page.locator("#modem").scroll_into_view_if_needed()
                    shot(page, "modem-card", code)
                    page.goto("/admin/users?q=learner")
                    shot(page, "accounts-search", code)
                    with page.expect_navigation():
                        page.get_by_role("link", name="learner5", exact=True).click()
                    with page.expect_navigation():
                        page.locator("#make-password").click()
                    page.locator("#made-password").scroll_into_view_if_needed()
                    shot(page, "password-made", code)
                    page.goto("/admin/users/import")
                    who = "sokha" if code == "km" else "sokha2"
                    rows = (
                        "username,display_name,cohort\n"
                        f"{who},សុខា ចាន់,ថ្នាក់ ខ\n{who}b,វិបុល សៅ,ថ្នាក់ ខ\n{who}c,Dara Keo,ថ្នាក់ ខ\n"
                    )
                    page.set_input_files(
                        "#file",
                        files=[{"name": "c.csv", "mimeType": "text/csv", "buffer": rows.encode()}],
                    )
                    with page.expect_navigation():
                        page.locator("main form button[type=submit]").click()
                    page.locator("#created").scroll_into_view_if_needed()
                    shot(page, "import-slips", code)
                    page.emulate_media(media="print")
                    shot(page, "import-slips-print", code, full=True)
                    ctx.close()
                browser.close()
        finally:
            site.stop()


if __name__ == "__main__":
    main()
