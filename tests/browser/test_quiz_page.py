"""Issue 14 items 3 and 6 on a phone: the quiz warns about unanswered questions, wraps long
questions in their card, folds a passed quiz behind "Try again", and keeps the answers when
the session expired while the learner was answering."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from edge_server.site.demo import DEMO_PASSWORD
from tests.browser.harness import km, sign_in

QUIZ = "/learn/items/classroom-reading/check-groups"
RIGHT = {"before-reading": ["show-cover"], "pair-roles": ["swap-roles", "wait-three"]}


def test_unanswered_questions_are_pointed_out_before_sending(page):
    sign_in(page, "learner1")
    page.goto(QUIZ)
    page.check("input[name='q-before-reading'][value='show-cover']")
    page.get_by_role("button", name=km("Submit answers")).click()
    note = page.locator("#unanswered")
    note.wait_for(state="visible")
    assert page.url.endswith(QUIZ)
    total = page.locator("fieldset.q").count()
    message = km(
        "%(count)s questions have no answer yet. Answer them, or tap Submit again to send the "
        "answers as they are.",
        count=str(total - 1).translate(str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")),
    )
    assert note.inner_text() == message
    assert page.locator("fieldset.q.missing").count() == total - 1
    with page.expect_navigation():
        page.get_by_role("button", name=km("Submit answers")).click()
    assert "/attempts/" in page.url  # sent as it is the second time


def test_question_text_wraps_inside_its_card(page):
    sign_in(page, "learner2")
    page.goto(QUIZ)
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('fieldset.q')].map(f => {
             const l = f.querySelector('legend').getBoundingClientRect();
             const b = f.getBoundingClientRect();
             const top = parseFloat(getComputedStyle(f).borderTopWidth);
             return {lt: l.top, ll: l.left, lr: l.right, bt: b.top + top, bl: b.left, br: b.right};
           })"""
    )
    assert boxes
    for box in boxes:
        assert box["lt"] >= box["bt"], box  # below the top border, not on it
        assert box["bl"] <= box["ll"] and box["lr"] <= box["br"], box


def test_a_passed_quiz_folds_its_form_and_lists_the_attempts(page):
    sign_in(page, "learner3")
    page.goto(QUIZ)
    for question, choices in RIGHT.items():
        for choice in choices:
            page.check(f"input[name='q-{question}'][value='{choice}']")
    page.check("input[name='q-same-story'][value='true']")
    with page.expect_navigation():
        page.get_by_role("button", name=km("Submit answers")).click()
    page.goto(QUIZ)
    assert page.locator("ul.attempts li").count() == 1
    assert km("Passed") in page.locator("ul.attempts li").inner_text()
    assert page.locator("#quiz").is_hidden()
    page.locator("details.retry summary").click()
    assert page.locator("#quiz").is_visible()


def test_answers_survive_a_session_that_expired_while_answering(page, site):
    sign_in(page, "learner4")
    page.goto(QUIZ)
    page.check("input[name='q-before-reading'][value='show-cover']")
    page.check("input[name='q-pair-roles'][value='swap-roles']")
    page.check("input[name='q-same-story'][value='true']")
    with closing(sqlite3.connect(site.data_dir / "kru.sqlite3", timeout=10)) as db, db:
        db.execute(  # the session ends on the Pi (expired) while the page stays open
            "DELETE FROM user_sessions WHERE user_id = "
            "(SELECT id FROM users WHERE username = 'learner4')"
        )
    with page.expect_navigation():
        page.get_by_role("button", name=km("Submit answers")).click()
    assert "/login" in page.url
    page.fill("#username", "learner4")
    page.fill("#password", DEMO_PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert page.url.endswith(QUIZ)
    page.wait_for_function(
        "() => document.querySelector(\"input[name='q-pair-roles'][value='swap-roles']\").checked"
    )
    assert page.is_checked("input[name='q-before-reading'][value='show-cover']")
    assert page.is_checked("input[name='q-same-story'][value='true']")
    assert not page.is_checked("input[name='q-pair-roles'][value='wait-three']")
    with page.expect_navigation():
        page.get_by_role("button", name=km("Submit answers")).click()
    assert "/attempts/" in page.url
    page.goto(QUIZ)  # the result page dropped the draft: a new attempt starts empty
    page.locator("details.retry summary, #quiz").first.wait_for()
    assert not page.is_checked("input[name='q-before-reading'][value='show-cover']")
