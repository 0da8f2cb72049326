"""Issue 14 item 12: the instructor reads a learner's history in the site's time (Phnom Penh,
UTC+7 by default), not in UTC; the events CSV says which zone its times are in."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.browser.harness import new_phone_context, sign_in

LESSON = "/learn/items/classroom-reading/routines-and-rules"
KHMER = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")


def test_learner_history_shows_phnom_penh_time(browser, site, site_db):
    learner = new_phone_context(browser, site.url)
    teacher = new_phone_context(browser, site.url)
    try:
        phone = learner.new_page()
        sign_in(phone, "learner1")
        phone.goto(LESSON)
        phone.wait_for_function("() => KruEvents.pending() === 0", polling=100)
        (stored,) = site_db(
            "SELECT e.server_ts FROM events e JOIN users u ON u.id = e.user_id "
            "WHERE u.username = 'learner1' AND e.verb = 'viewed' ORDER BY e.seq DESC LIMIT 1"
        )
        utc = datetime.fromisoformat(stored[0].replace("Z", "+00:00"))
        local = (utc + timedelta(hours=7)).strftime("%Y-%m-%d %H:%M").translate(KHMER)
        shown_utc = utc.strftime("%Y-%m-%d %H:%M").translate(KHMER)

        page = teacher.new_page()
        sign_in(page, "instructor")
        ((cohort, user),) = site_db(
            "SELECT m.cohort_id, u.id FROM cohort_members m JOIN users u ON u.id = m.user_id "
            "WHERE u.username = 'learner1' LIMIT 1"
        )
        page.goto(f"/teach/cohorts/{cohort}/learners/{user}")
        text = page.locator("main").inner_text()
        assert local in text
        assert shown_utc not in text

        csv = page.request.get(f"/teach/cohorts/{cohort}/events.csv").text()
        header = csv.lstrip("\ufeff").splitlines()[0].split(",")
        assert "server_time (Asia/Phnom_Penh)" in header
        assert (utc + timedelta(hours=7)).strftime("%Y-%m-%d %H:%M:%S") in csv
    finally:
        learner.close()
        teacher.close()
