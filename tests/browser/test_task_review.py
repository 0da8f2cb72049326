"""Journey: a learner hands in a photo and a 9 MB lesson plan from a 360x740 phone (the photo
in the request, the plan through resumable chunks with a progress bar); the instructor
reviews it with the rubric on a phone; the learner sees the score and the comment."""

from __future__ import annotations

import io
import os

from playwright.sync_api import expect

from tests.browser.harness import horizontal_overflow, km, new_phone_context, sign_in

TASK_PAGE = "/learn/items/classroom-reading/plan-reading-lesson"


def _photo() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), "#f4efe1")
    draw = ImageDraw.Draw(image)
    for row in range(8):
        draw.line((40, 60 + row * 48, 600, 60 + row * 48), fill="#334", width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def test_a_learner_submits_a_photo_and_the_instructor_reviews_it(browser, site, site_db, tmp_path):
    plan = b"%PDF-1.6\n" + os.urandom(9 * 1024 * 1024)
    (tmp_path / "board.jpg").write_bytes(_photo())
    (tmp_path / "plan.pdf").write_bytes(plan)
    learner = new_phone_context(browser, site.url)
    try:
        page = learner.new_page()
        sign_in(page, "learner3")
        page.goto(TASK_PAGE)
        assert horizontal_overflow(page) == 0
        page.set_input_files("#task-files", [tmp_path / "board.jpg", tmp_path / "plan.pdf"])
        page.fill("#task-note", "ផែនការថ្នាក់ទី២")
        with page.expect_navigation(timeout=60_000):
            page.locator("#task-submit button[type=submit]").click()
        expect(page.locator("#v1 .badge.dec-submitted")).to_have_text(km("Waiting for review"))
        expect(page.locator("#v1 li a")).to_have_count(2)
    finally:
        learner.close()
    rows = site_db("SELECT f.name, f.kind, f.size FROM task_files f ORDER BY f.position")
    assert rows == [("board.jpg", "image", len(_photo())), ("plan.pdf", "document", len(plan))]

    teacher = new_phone_context(browser, site.url)
    try:
        page = teacher.new_page()
        sign_in(page, "instructor")
        page.goto("/teach/cohorts/1")
        with page.expect_navigation():
            page.locator("#review-queue").click()
        with page.expect_navigation():
            page.locator("#queue a").first.click()
        image = page.locator("figure.submitted-file img")
        expect(image).to_be_visible()
        assert image.evaluate("img => img.naturalWidth") == 640
        expect(page.locator("iframe.pdf")).to_have_count(1)
        for criterion, level in (
            ("objective", "clear"),
            ("timing", "partial"),
            ("support", "planned"),
        ):
            page.check(f"input[name='c-{criterion}'][value='{level}']")
        page.fill("#comment", "ល្អ។ សូមកំណត់ពេលសម្រាប់ការអានជាក្រុម។")
        assert horizontal_overflow(page) == 0
        with page.expect_navigation():
            page.locator("button[name=decision][value=accepted]").click()
        expect(page.locator("p.flash.success")).to_have_text(km("Review saved."))
    finally:
        teacher.close()

    learner = new_phone_context(browser, site.url)
    try:
        page = learner.new_page()
        sign_in(page, "learner3")
        page.goto(TASK_PAGE)
        expect(page.locator("#v1 .badge.dec-accepted")).to_have_text(km("Accepted"))
        expect(page.locator("#v1 td.chosen")).to_have_count(3)
        expect(page.locator("#v1 blockquote.comment")).to_contain_text("ការអានជាក្រុម")
        expect(page.locator("#task-submit")).to_have_count(0)  # accepted: nothing to resubmit
    finally:
        learner.close()
    (status,) = site_db(
        "SELECT p.status FROM progress p JOIN users u ON u.id = p.user_id "
        "WHERE u.username = 'learner3' AND p.item = 'classroom-reading/plan-reading-lesson'"
    )
    assert status == ("passed",)  # 5 of 6 points, pass mark 60 %
