"""Issue 14 item 2: finishing an item changes its badge in place and says where it is saved."""

from __future__ import annotations

from tests.browser.harness import km, sign_in

LESSON = "/learn/items/classroom-reading/routines-and-rules"


def test_i_have_finished_updates_the_badge_and_says_saved(page):
    sign_in(page, "learner1")
    page.goto(LESSON)
    page.wait_for_function("() => KruEvents.pending() === 0", polling=100)
    page.locator("#mark-done").click()
    note = page.locator("#saved")
    note.wait_for(state="visible")
    assert note.inner_text() == km("Saved")
    assert page.locator("#status .badge").inner_text() == km("Completed")
    assert page.evaluate("() => KruEvents.pending()") == 0  # "Saved" means the Pi has it


def test_finished_while_offline_says_saved_on_this_phone(page, context):
    sign_in(page, "learner2")
    page.goto(LESSON)
    page.wait_for_function("() => KruEvents.pending() === 0", polling=100)
    context.set_offline(True)
    page.locator("#mark-done").click()
    assert page.locator("#saved").inner_text() == km("Saved on this phone")
    assert page.locator("#status .badge").inner_text() == km("Completed")
    assert page.evaluate("() => KruEvents.pending()") >= 1
    context.set_offline(False)


def test_automatic_completion_is_announced_the_same_way(page):
    page.clock.install()
    sign_in(page, "learner3")
    page.goto(LESSON)
    page.wait_for_function("() => KruEvents.pending() === 0", polling=100)
    page.locator("#lesson-end").scroll_into_view_if_needed()
    page.clock.run_for(25_000)  # read to the end, and long enough
    page.locator("#saved").wait_for(state="visible")
    assert page.locator("#saved").inner_text() == km("Saved")
    assert page.locator("#status .badge").inner_text() == km("Completed")
