"""Regenerate docs/screenshots/*.png: the main pages on a 360x740 phone, in Khmer and English.

    .venv/bin/python tools/screenshots.py                 # all pages into docs/screenshots/
    .venv/bin/python tools/screenshots.py --only login --out /tmp/shots

Starts a throw-away demo site (``kru serve`` on a free port), lets learner1 study a little so
the progress pages have something to show, then photographs each page with Debian's Chromium.
PNGs are reduced to a 64-colour palette so the whole folder stays well under 2 MB.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.harness import (  # noqa: E402
    SITE_ENV,
    launch_chromium,
    new_phone_context,
    sign_in,
    start_demo_site,
)
from tests.fake_pi import FakePi  # noqa: E402
from tests.observe_support import MENTOR_PASSWORD, fill_in_form, seed_practicum  # noqa: E402

log = logging.getLogger("screenshots")

OUT = ROOT / "docs" / "screenshots"
LANGUAGES = ("km", "en")
LOCALES = {"km": "km-KH", "en": "en-GB"}  # also the language of the browser's own widgets
ITEM = "/learn/items/classroom-reading/"
BAD_CLASS_LIST = "username,display_name\nsokha,សុខា ចាន់\nbad name!,ឈ្មោះ\n"


def _import_with_a_bad_row(page: Any) -> None:
    page.set_input_files(
        "#file",
        files=[{"name": "class.csv", "mimeType": "text/csv", "buffer": BAD_CLASS_LIST.encode()}],
    )
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    page.locator("#problems").scroll_into_view_if_needed()


def _open_first_review(page: Any) -> None:
    """From the review queue, open the oldest work and click the rubric's levels."""
    with page.expect_navigation():
        page.locator("#queue a").first.click()
    for criterion, level in (("objective", "clear"), ("timing", "partial"), ("support", "planned")):
        page.check(f"input[name='c-{criterion}'][value='{level}']")
    page.evaluate("window.scrollTo(0, 0)")


def _hand_in_work(browser: Any, url: str) -> None:
    """Let learner2 hand in a photo of a handwritten plan, so the review pages have work."""
    import io

    from PIL import ImageDraw

    image = Image.new("RGB", (480, 360), "#fbf7ea")
    draw = ImageDraw.Draw(image)
    for row in range(7):
        draw.line((30, 40 + row * 44, 450, 40 + row * 44), fill="#2a3550", width=3)
    photo = io.BytesIO()
    image.save(photo, "JPEG", quality=80)
    context = new_phone_context(browser, url)
    try:
        page = context.new_page()
        sign_in(page, "learner2")
        page.goto(ITEM + "plan-reading-lesson")
        page.set_input_files(
            "#task-files",
            files=[{"name": "plan.jpg", "mimeType": "image/jpeg", "buffer": photo.getvalue()}],
        )
        page.fill("#task-note", "ផែនការមេរៀនអាន ថ្នាក់ទី២")
        with page.expect_navigation():
            page.locator("#task-submit button[type=submit]").click()
    finally:
        context.close()


def _new_draft(page: Any) -> None:
    """On "Make a course", create a Khmer course and write its first lesson."""
    page.fill("#new-course input[name=title_km]", "ការអានឮៗក្នុងថ្នាក់")
    page.fill("#new-course input[name=title_en]", "Reading aloud in class")
    with page.expect_navigation():
        page.locator("#new-course button[type=submit]").click()
    page.locator("[data-add=lesson]").click()
    page.locator("#lesson-editor").wait_for(state="visible")
    page.fill("#item-title-km", "ហេតុអ្វីអានឮៗ")
    page.fill(
        "#body-md",
        "# ហេតុអ្វីអានឮៗ\n\nការអានឮៗរាល់ថ្ងៃជួយសិស្ស៖\n\n- ស្តាប់សំឡេងពាក្យ\n- ស្រឡាញ់សៀវភៅ\n- និយាយអំពីរឿង\n",
    )
    page.locator("#lesson-preview h1").wait_for()
    page.wait_for_function("() => document.getElementById('save-state').textContent.length > 0")


def _editor(page: Any) -> None:
    _new_draft(page)
    page.wait_for_function(
        "() => (localStorage.getItem('kru-draft-' + "
        "document.getElementById('editor').dataset.draft) || '{}') === '{}'"
    )
    page.evaluate("window.scrollTo(0, 0)")


def _scroll_to(page: Any, element_id: str) -> None:
    """Scroll so the element ``element_id`` is at the top of the phone's screen."""
    page.evaluate(
        "(id) => window.scrollBy(0, document.getElementById(id).getBoundingClientRect().top - 16)",
        element_id,
    )


def _editor_lesson(page: Any) -> None:
    _editor(page)
    _scroll_to(page, "item-title-km")


def _editor_task(page: Any) -> None:
    _new_draft(page)
    page.locator("[data-add=task]").click()
    page.locator("#task-editor").wait_for(state="visible")
    page.fill("#task-instructions", "ថតរូបផែនការមេរៀនអានរបស់អ្នក ហើយផ្ញើមក។")
    _scroll_to(page, "task-editor")


def _editor_quiz(page: Any) -> None:
    _new_draft(page)
    page.locator("[data-add=quiz]").click()
    page.locator("#quiz-editor").wait_for(state="visible")
    question = page.locator("#questions > li").first
    question.locator("input").first.fill("តើគួរអានឮៗប៉ុន្មានដងក្នុងមួយសប្តាហ៍?")
    page.locator("#quiz-editor").scroll_into_view_if_needed()


def _preview(page: Any) -> None:
    _new_draft(page)
    page.wait_for_function(
        "() => (localStorage.getItem('kru-draft-' + "
        "document.getElementById('editor').dataset.draft) || '{}') === '{}'"
    )
    with page.expect_navigation():
        page.locator("#preview-learner").click()


def _observe(browser: Any, url: str) -> None:
    """Let mentor1 observe learner1 (saved on the Wi-Fi), so the observation pages have data."""
    context = new_phone_context(browser, url)
    try:
        page = context.new_page()
        sign_in(page, "mentor1", MENTOR_PASSWORD)
        page.goto("/observe")
        page.locator("#students tr", has_text="learner1").locator("a.button").click()
        page.wait_for_selector("#observe-form")
        fill_in_form(page)
        page.locator("#observe-form button[type=submit]").click()
        page.wait_for_function(
            "() => Object.values(JSON.parse(localStorage.getItem('kru.observations.v1') || '{}'))"
            ".every(q => q.length === 0)"
        )
    finally:
        context.close()


def _open_form_of_learner1(page: Any) -> None:
    with page.expect_navigation():
        page.locator("#students tr", has_text="learner1").locator("a.button").click()
    page.locator("input[name=school]").fill("សាលាបឋមសិក្សាតាខ្មៅ")
    page.evaluate("window.scrollTo(0, 0)")


def _back_up_to_the_stick(page: Any) -> None:
    """Open the (FAT32 image) stick on the Site page, back up to it, show the backup card."""
    opener = page.locator("#backup form[data-device=sdz1] button")
    if opener.count():
        with page.expect_navigation():
            opener.click()
    with page.expect_navigation():
        page.locator("#backup .stick button.primary").click()
    page.locator("#backup").scroll_into_view_if_needed()
    page.evaluate("document.getElementById('backup').scrollIntoView()")


def _clock_ahead(page: Any) -> None:
    """Give the browser a clock two hours ahead of the Pi's, so the Site page offers it."""
    from datetime import UTC, datetime, timedelta

    page.context.clock.set_system_time(datetime.now(UTC) + timedelta(hours=2))
    page.reload()
    page.locator("#clock-offer").wait_for(state="visible")
    page.evaluate("document.getElementById('clock').scrollIntoView()")


def _open_restore(page: Any) -> None:
    with page.expect_navigation():
        page.locator("#backup a.button").first.click()


# (file name, who signs in, path, what to do on the page before the photo)
PAGES: list[tuple[str, str | None, str, Callable[[Any], None] | None]] = [
    ("login", None, "/login", None),
    ("learner-home", "learner1", "/learn/", None),
    ("course", "learner1", "/learn/courses/classroom-reading/classroom-reading", None),
    ("lesson", "learner1", ITEM + "reading-aloud", None),
    ("video", "learner1", ITEM + "read-aloud-video", None),
    ("quiz", "learner1", ITEM + "check-groups", None),
    ("my-progress", "learner1", "/learn/progress", None),
    ("task", "learner1", ITEM + "plan-reading-lesson", None),
    ("review-queue", "instructor", "/teach/cohorts/1/submissions", None),
    ("review", "instructor", "/teach/cohorts/1/submissions", _open_first_review),
    ("cohort-dashboard", "instructor", "/teach/cohorts/1", None),
    ("observe-form", "mentor1", "/observe", _open_form_of_learner1),
    ("my-observations", "learner1", "/my/observations", None),
    ("observation-matrix", "instructor", "/teach/cohorts/1/observations", None),
    ("pack-upload", "instructor", "/packs/upload", None),
    ("make-course", "instructor", "/authoring/", None),
    ("editor", "instructor", "/authoring/", _editor),
    ("editor-lesson", "instructor", "/authoring/", _editor_lesson),
    ("editor-quiz", "instructor", "/authoring/", _editor_quiz),
    ("editor-task", "instructor", "/authoring/", _editor_task),
    ("editor-preview", "instructor", "/authoring/", _preview),
    ("site-status", "admin", "/admin/", None),
    ("site-backup", "admin", "/admin/", _back_up_to_the_stick),
    ("site-restore", "admin", "/admin/", _open_restore),
    ("site-clock-power", "admin", "/admin/", _clock_ahead),
    ("class-list-import", "admin", "/admin/users/import", _import_with_a_bad_row),
]


NEEDS_PROGRESS = {"learner-home", "course", "my-progress", "cohort-dashboard"}
NEEDS_WORK = {"review-queue", "review"}
NEEDS_OBSERVATION = {"observe-form", "my-observations", "observation-matrix"}
PASSWORDS = {"mentor1": MENTOR_PASSWORD}


def _study_a_little(browser: Any, url: str) -> None:
    """Let learner1 finish two items and fail then pass a quiz, so progress pages show data."""
    context = new_phone_context(browser, url)
    try:
        page = context.new_page()
        sign_in(page, "learner1")
        for slug in ("reading-classroom", "routines-and-rules"):
            page.goto(ITEM + slug)
            page.locator("#mark-done").click()
            page.wait_for_function("() => KruEvents.pending() === 0")
        for choice in ("read-fast", "show-cover"):
            page.goto(ITEM + "check-groups")
            page.check(f"input[name='q-before-reading'][value='{choice}']")
            page.check("input[name='q-pair-roles'][value='swap-roles']")
            page.check("input[name='q-same-story'][value='true']")
            with page.expect_navigation():
                page.locator("form.quiz button[type=submit]").click()
    finally:
        context.close()


def _use_language(page: Any, lang: str) -> None:
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation():
            page.locator(f"header button[name=lang][value={lang}]").click()


def save_png(png: bytes, path: Path, colours: int = 64) -> int:
    """Write ``png`` reduced to a palette of ``colours``; return the file's size in bytes."""
    import io

    with Image.open(io.BytesIO(png)) as image:
        small = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
        small.save(path, format="PNG", optimize=True)
    return path.stat().st_size


def capture(browser: Any, url: str, out: Path, only: set[str] | None = None) -> list[Path]:
    """Photograph every page of ``PAGES`` (or those named in ``only``) in each language."""
    written: list[Path] = []
    for lang in LANGUAGES:
        contexts: dict[str | None, Any] = {}
        try:
            for name, user, path, prepare in PAGES:
                if only and name not in only:
                    continue
                if user not in contexts:
                    contexts[user] = new_phone_context(browser, url, locale=LOCALES[lang])
                    page = contexts[user].new_page()
                    if user:
                        sign_in(page, user, *([PASSWORDS[user]] if user in PASSWORDS else []))
                    else:
                        page.goto("/login")
                    _use_language(page, lang)
                page = contexts[user].pages[0]
                page.goto(path)
                if prepare:
                    prepare(page)
                page.evaluate("document.fonts.ready.then(() => true)")
                page.wait_for_load_state("networkidle")
                target = out / f"{lang}-{name}.png"
                size = save_png(page.screenshot(animations="disabled"), target)
                log.info("%s (%d KB)", target, size // 1024)
                written.append(target)
        finally:
            for context in contexts.values():
                context.close()
    return written


def main(argv: list[str] | None = None) -> int:
    """Start a demo site, photograph the pages, and write them to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="Folder for the PNG files.")
    names = ", ".join(p[0] for p in PAGES)
    parser.add_argument("--only", action="append", help=f"Only this page (repeatable): {names}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kru-shots-") as tmp:
        pi = FakePi(Path(tmp) / "pi")  # a USB stick, power flags, an unsynchronised clock
        site = start_demo_site(Path(tmp), env=pi.env)
        seed_practicum(site.data_dir, SITE_ENV)
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                try:
                    if not args.only or set(args.only) & NEEDS_PROGRESS:
                        _study_a_little(browser, site.url)
                    if not args.only or set(args.only) & NEEDS_WORK:
                        _hand_in_work(browser, site.url)
                    if not args.only or set(args.only) & NEEDS_OBSERVATION:
                        _observe(browser, site.url)
                    files = capture(browser, site.url, args.out, set(args.only or ()))
                finally:
                    browser.close()
        finally:
            site.stop()
            pi.unmount()
    total = sum(f.stat().st_size for f in files)
    log.info("%d screenshots, %d KB in all", len(files), total // 1024)
    return 0


if __name__ == "__main__":
    sys.exit(main())
