"""Issue 14 item 8: an instructor reads a learner's detail on a phone in the learner's
words: item titles, verbs and true/false in Khmer, and the history fits 360 px."""

from __future__ import annotations

from tests.browser.harness import horizontal_overflow, km, new_phone_context, sign_in

QUIZ = "/learn/items/classroom-reading/check-groups"
LESSON = "/learn/items/classroom-reading/routines-and-rules"


def test_learner_detail_speaks_the_instructors_language_and_fits_a_phone(browser, site, site_db):

    learner = new_phone_context(browser, site.url)
    try:
        phone = learner.new_page()
        sign_in(phone, "learner2")
        phone.goto(LESSON)
        phone.locator("#mark-done").click()
        phone.wait_for_function("() => KruEvents.pending() === 0", polling=100)
        phone.goto(QUIZ)
        phone.check("input[name='q-before-reading'][value='show-cover']")
        phone.check("input[name='q-pair-roles'][value='swap-roles']")
        phone.check("input[name='q-same-story'][value='true']")
        with phone.expect_navigation():
            phone.get_by_role("button", name=km("Submit answers")).click()
    finally:
        learner.close()

    teacher = new_phone_context(browser, site.url)
    try:
        page = teacher.new_page()
        sign_in(page, "instructor")
        ((cohort, user),) = site_db(
            "SELECT m.cohort_id, u.id FROM cohort_members m JOIN users u ON u.id = m.user_id "
            "WHERE u.username = 'learner2'"
        )
        page.goto(f"/teach/cohorts/{cohort}/learners/{user}")
        text = page.locator("main").inner_text()
        assert "classroom-reading/" not in text  # titles, not keys
        for english in ("viewed", "completed", "attempted", "true", "false"):
            assert english not in text, english
        assert km("Opened") in text and km("Answered the quiz") in text
        assert km("True") in text and km("Correct") in text
        assert horizontal_overflow(page) == 0
    finally:
        teacher.close()
