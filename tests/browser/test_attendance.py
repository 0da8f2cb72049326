"""Attendance for 40 learners on the instructor's phone: by taps, then by session code."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from tests.browser.harness import SITE_ENV, new_phone_context, sign_in

DEMO_CONTENT = False

_SEED = """
import sys
from edge_server import accounts; from edge_server.site import demo
from edge_server.cli.context import CliContext
from edge_server.cpd import attendance

ctx = CliContext(data_dir=sys.argv[1])
ctx.open_site_db()
cohort = accounts.get_cohort(name=demo.DEMO_COHORT)
for i in range(6, 41):
    user = accounts.create_user(f"learner{i}", demo.DEMO_PASSWORD, display_name=f"សិស្ស {i}")
    accounts.add_to_cohort(cohort, user)
tz = attendance.zone("Asia/Phnom_Penh")
for title in ("Roll by taps", "Roll by code"):
    s = attendance.schedule(cohort, title=title, local_start="2026-03-02T08:00", tz=tz)
    print(s.id)
"""


@pytest.fixture(scope="module")
def sessions(site) -> list[int]:
    import os

    out = subprocess.run(
        [sys.executable, "-c", _SEED, str(site.data_dir)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **SITE_ENV},
        timeout=120,
    )
    return [int(line) for line in out.stdout.split()]


def test_instructor_takes_attendance_of_40_by_taps(page, sessions, site_db):
    sign_in(page, "instructor")
    page.goto(f"/teach/sessions/{sessions[0]}")
    rows = page.locator("#roster li")
    expect(rows).to_have_count(40)
    started = time.monotonic()
    for i in range(40):
        status = "late" if i % 10 == 9 else "present"
        button = rows.nth(i).locator(f"button.st-{status}")
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
    elapsed = time.monotonic() - started
    rows.nth(0).locator("button.st-absent").click()  # a change of mind: latest mark wins
    expect(rows.nth(0).locator("button.st-absent")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    marks = site_db(
        "SELECT status, COUNT(*) FROM f2f_attendance WHERE session_id = ? GROUP BY 1",
        sessions[0],
    )
    assert dict(marks) == {"present": 35, "late": 4, "absent": 1}
    assert site_db("SELECT COUNT(*) FROM events WHERE verb = 'attended'")[0][0] == 41
    print(f"40 taps took {elapsed:.1f} s")
    assert elapsed < 60


def test_learners_check_in_with_the_session_code(browser, page, site, sessions, site_db):
    sign_in(page, "instructor")
    page.goto(f"/teach/sessions/{sessions[1]}")
    page.locator("#toggle-checkin").click()
    code = page.locator("#session-code").inner_text().strip()
    assert len(code) == 6
    qr = page.locator("img.qr")
    expect(qr).to_be_visible()  # an <img> sized by the stylesheet is visible before it loads
    page.wait_for_function("(img => img.complete)(document.querySelector('img.qr'))")
    assert page.evaluate("document.querySelector('img.qr').naturalWidth") > 100
    for n, by_link in ((7, False), (8, True)):
        phone = new_phone_context(browser, site.url)
        try:
            learner = phone.new_page()
            sign_in(learner, f"learner{n}")
            if by_link:  # what the QR code holds: the check-in page with the code filled in
                learner.goto(f"/checkin?code={code}")
            else:
                learner.goto("/checkin")
                learner.fill("#code", code.lower())
            learner.locator("main form button[type=submit]").click()
            expect(learner.locator("#checked-in")).to_be_visible()
        finally:
            phone.close()
    rows = site_db(
        "SELECT u.username, a.status FROM f2f_attendance a JOIN users u ON u.id = a.user_id "
        "WHERE a.session_id = ? ORDER BY u.username",
        sessions[1],
    )
    assert rows == [("learner7", "present"), ("learner8", "present")]
    page.reload()
    marked = page.locator('#roster li[data-learner="learner7"] button.st-present')
    expect(marked).to_have_attribute("aria-pressed", "true")
    page.locator("#toggle-checkin").click()
    expect(page.locator("#session-code")).to_have_count(0)
