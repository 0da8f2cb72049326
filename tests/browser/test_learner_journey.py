"""Journey 1: a learner on a phone, in Khmer, works through the sample course."""

from __future__ import annotations

from tests.browser.harness import km, sign_in

KHMER_DIGITS = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")
VIDEO = "/learn/items/classroom-reading/read-aloud-video"
QUIZ = "/learn/items/classroom-reading/check-groups"
WRONG = {
    "before-reading": ["read-fast"],
    "pair-roles": ["best-with-weakest"],
    "same-story": ["false"],  # every question answered: no "unanswered" warning (issue 14)
}
RIGHT = {"before-reading": ["show-cover"], "pair-roles": ["swap-roles", "wait-three"]}


def course_percent(page) -> int:
    page.goto("/learn/")
    return int(page.locator(".course-card [role=progressbar]").first.get_attribute("aria-valuenow"))


def wait_until_sent(page) -> None:
    """Wait until the page's event queue is empty (the server accepted everything)."""
    page.wait_for_function("() => window.KruEvents && KruEvents.pending() === 0")


def read_lesson_to_the_end(page) -> None:
    page.locator("#lesson-end").scroll_into_view_if_needed()
    page.clock.run_for(25_000)  # the lesson counts as read after 20 s on the page
    page.locator("#mark-done[hidden]").wait_for(state="attached")
    wait_until_sent(page)


def watch_video_near_the_end(page) -> None:
    page.goto(VIDEO)
    page.wait_for_function("() => document.getElementById('media').readyState >= 1")
    page.evaluate(
        """async () => {
             const v = document.getElementById('media');
             v.muted = true;
             v.currentTime = v.duration - 0.5;
             await v.play();
           }"""
    )
    page.locator("#mark-done[hidden]").wait_for(state="attached")
    wait_until_sent(page)


def answer_quiz(page, answers: dict[str, list[str]]) -> str:
    """Fill the quiz form (true/false left to ``same-story``'s default) and return the score."""
    page.goto(QUIZ)
    for question, choices in answers.items():
        for choice in choices:
            page.check(f"input[name='q-{question}'][value='{choice}']")
    if "same-story" not in answers:
        page.check("input[name='q-same-story'][value='true']")
    with page.expect_navigation():
        page.get_by_role("button", name=km("Submit answers")).click()
    return page.locator("#score").inner_text()


def test_learner_studies_the_sample_course_and_sees_progress(page):
    page.clock.install()
    sign_in(page, "learner1")
    assert page.locator("h1").inner_text() == km("My courses")
    before = course_percent(page)
    assert before == 0

    with page.expect_navigation():
        page.locator("#continue").click()
    assert page.locator("#item").get_attribute("data-type") == "lesson"
    read_lesson_to_the_end(page)
    after_lesson = course_percent(page)
    assert after_lesson > before

    watch_video_near_the_end(page)
    after_video = course_percent(page)
    assert after_video > after_lesson

    failed = answer_quiz(page, WRONG)
    assert failed.translate(KHMER_DIGITS) == "0%"
    assert page.locator(".result .badge").inner_text() == km("Failed")
    passed = answer_quiz(page, RIGHT)
    assert passed.translate(KHMER_DIGITS) == "100%"
    assert page.locator(".result .badge").inner_text() == km("Passed")
    assert course_percent(page) > after_video

    page.goto("/learn/progress")
    done = page.locator("dl.facts dd").first.inner_text().translate(KHMER_DIGITS)
    assert done.startswith("3 / ")
    quiz_row = page.locator("table.scores tr", has_text="តេស្តខ្លី")
    cells = quiz_row.locator("td").all_inner_texts()
    assert cells[1].startswith("១០០%") and cells[2] == "២"
