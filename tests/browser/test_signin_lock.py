"""A classmate guesses at a learner's account from many phones; the learner sees, in Khmer,
how long to wait; the instructor lifts the lock from the learner's page; a copied cookie
stops working when its owner signs out."""

from __future__ import annotations

import http.client
import json
import re

from tests.browser.harness import km, new_phone_context, sign_in

DEMO_CONTENT = False
KHMER_DIGITS = "០១២៣៤៥៦៧៨៩"


def guess_from(site_url: str, address: str, username: str, password: str) -> int:
    """One wrong sign-in from a phone with its own address (a loopback address here)."""
    host, port = site_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(address, 0))
    try:
        conn.request("GET", "/api/v1/session")
        response = conn.getresponse()
        token = json.loads(response.read())["csrf_token"]
        cookie = response.getheader("Set-Cookie").split(";")[0]
        body = json.dumps({"username": username, "password": password})
        headers = {"Content-Type": "application/json", "X-CSRFToken": token, "Cookie": cookie}
        conn.request("POST", "/api/v1/session", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def test_locked_learner_is_told_the_wait_and_the_instructor_unlocks(browser, site, site_db):
    # 30 phones on the Wi-Fi, one wrong guess each: no phone reaches its own limit.
    statuses = {
        guess_from(site.url, f"127.0.0.{10 + n}", "learner2", f"guess-{n}") for n in range(30)
    }
    assert statuses == {401}

    learner_phone = new_phone_context(browser, site.url)
    teacher_phone = new_phone_context(browser, site.url)
    try:
        learner = learner_phone.new_page()
        learner.goto("/login")
        learner.fill("#username", "learner2")
        learner.fill("#password", "demo1234")
        with learner.expect_navigation():
            learner.locator("main form button[type=submit]").click()
        message = learner.locator(".flash.error").inner_text()
        minutes = re.search(f"[{KHMER_DIGITS}]+", message)
        assert minutes is not None, message  # the wait, in Khmer digits
        assert message == km(
            "This account is locked after too many wrong passwords. Try again in "
            "%(minutes)s minute(s), or ask your instructor to unlock it.",
            minutes=minutes.group(0),
        )

        [(cohort_id, user_id)] = site_db(
            "SELECT m.cohort_id, u.id FROM users u JOIN cohort_members m ON m.user_id = u.id"
            " WHERE u.username = 'learner2'"
        )
        teacher = teacher_phone.new_page()
        sign_in(teacher, "instructor")
        teacher.goto(f"/teach/cohorts/{cohort_id}/learners/{user_id}")
        assert teacher.locator("#sign-in-lock").is_visible()
        with teacher.expect_navigation():
            teacher.locator("form[action$='/unlock'] button").click()
        assert teacher.locator("#sign-in-lock").count() == 0

        sign_in(learner, "learner2")
    finally:
        learner_phone.close()
        teacher_phone.close()


def test_a_copied_cookie_stops_working_when_its_owner_signs_out(browser, site):
    owner = new_phone_context(browser, site.url)
    thief = new_phone_context(browser, site.url)
    try:
        page = owner.new_page()
        sign_in(page, "learner4")
        thief.add_cookies([c for c in owner.cookies() if c["name"] == "session"])
        stolen = thief.new_page()
        stolen.goto("/learn/")
        assert "/login" not in stolen.url
        with page.expect_navigation():
            page.get_by_role("button", name=km("Sign out")).click()
        stolen.goto("/learn/")
        assert "/login" in stolen.url
    finally:
        owner.close()
        thief.close()
