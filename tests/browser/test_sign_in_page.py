"""Issue 14 item 7: the sign-in page says what this is and where the password comes from,
speaks Khmer when a field is empty, puts the cursor in the password after a wrong one, and
counts down when it must wait."""

from __future__ import annotations

import re

from tests.browser.harness import km

DEMO_CONTENT = False
KHMER_DIGITS = "០១២៣៤៥៦៧៨៩"


def submit(page) -> None:
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()


def test_sign_in_page_says_what_this_is_and_who_gives_the_password(page):
    page.goto("/login")
    intro = page.locator("#site-intro").inner_text()
    assert km("This is %(site)s, the course site of your teacher training.", site="Kru") in intro
    assert km("Get your username and password from your instructor.") in intro


def test_an_empty_field_is_named_in_khmer(page):
    page.goto("/login")
    page.locator("main form button[type=submit]").click()  # the browser stops it
    assert page.url.endswith("/login")
    message = page.evaluate("() => document.getElementById('username').validationMessage")
    assert message == km("Type your username.")
    page.fill("#username", "learner1")
    page.locator("main form button[type=submit]").click()
    message = page.evaluate("() => document.getElementById('password').validationMessage")
    assert message == km("Type your password.")


def test_after_a_wrong_password_the_cursor_is_in_the_password(page):
    page.goto("/login")
    page.fill("#username", "learner1")
    page.fill("#password", "not-the-password")
    submit(page)
    assert page.locator("#username").input_value() == "learner1"
    assert page.evaluate("() => document.activeElement.id") == "password"


def test_a_sign_in_that_must_wait_keeps_the_form_and_counts_down(page):
    page.clock.install()
    page.goto("/login")
    for _ in range(20):
        page.fill("#username", "learner3")
        page.fill("#password", "wrong-guess")
        submit(page)
        if page.locator("#wait").count():
            break
    wait = page.locator("#wait")
    first = wait.inner_text()
    seconds = re.search(f"[{KHMER_DIGITS}]+", first)
    assert seconds is not None, first
    assert page.locator("#password").is_visible()
    assert page.locator("main form button[type=submit]").is_disabled()
    page.clock.run_for(3_000)
    assert wait.inner_text() != first  # counting down
    page.clock.run_for(120_000)
    assert wait.is_hidden()
    assert page.locator("main form button[type=submit]").is_enabled()
