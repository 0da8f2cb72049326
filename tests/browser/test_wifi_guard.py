"""Issue 14 item 1: a learner whose Wi-Fi drops stays on the page and is told their work is
safe; after sign-out Back shows no learner page. (Back from the page cache while offline
rests on the `private, no-cache` header, tested in test_security_headers.py: headless
Chromium restored the page only sometimes, so no browser test asserts it.)"""

from __future__ import annotations

from tests.browser.harness import km, screenshot_dir, sign_in

COURSE = "/learn/courses/classroom-reading/classroom-reading"
LESSON = "/learn/items/classroom-reading/routines-and-rules"
KHMER = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")


def _photograph(page, path) -> None:
    """Photograph the top of the page, where the banner is (the taps scrolled down)."""
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(path))


def test_a_tap_while_offline_keeps_the_learner_on_the_page_and_says_the_work_is_safe(
    page, context, tmp_path
):
    pictures = screenshot_dir(tmp_path, "offline")
    sign_in(page, "learner3")
    page.goto(LESSON)
    page.wait_for_function("() => KruEvents.pending() === 0", polling=100)
    banner = page.locator("#wifi")
    assert banner.is_hidden()

    context.set_offline(True)
    page.locator("#mark-done").click()  # saved on the phone: the queue cannot send it
    page.locator("#next").click()
    assert page.url.endswith(LESSON)  # not the browser's own "no internet" page
    assert banner.inner_text() == km(
        "Wi-Fi lost: your work is saved on this phone and will be sent when Wi-Fi returns."
    )
    queued = page.evaluate("() => KruEvents.pending()")
    assert queued >= 1
    _photograph(page, pictures / "km-wifi-lost.png")

    context.set_offline(False)
    sent = km("Wi-Fi is back: %(count)s saved steps were sent.", count=str(queued).translate(KHMER))
    page.wait_for_function(
        "(text) => document.getElementById('wifi').textContent === text", arg=sent
    )
    assert page.evaluate("() => KruEvents.pending()") == 0
    _photograph(page, pictures / "km-wifi-back.png")
    page.locator("#next").click()
    page.wait_for_url(lambda url: not url.endswith(LESSON))


def test_after_sign_out_back_shows_no_page_of_the_last_learner(page):
    sign_in(page, "learner5")
    page.goto(COURSE)
    page.goto(LESSON)
    with page.expect_navigation():
        page.locator("header form[action$='/logout'] button").click()
    assert "/login" in page.url
    page.go_back()
    page.wait_for_url("**/login**")
    assert page.locator("#item").count() == 0
