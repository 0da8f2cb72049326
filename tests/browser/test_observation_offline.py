"""Issue 15, item 7: a mentor's observation form keeps working when the phone leaves the
Wi-Fi; the observation is kept on the phone and arrives exactly once when it is back."""

from __future__ import annotations

import json

import pytest

from tests.browser.harness import SITE_ENV, km, sign_in
from tests.observe_support import FORM, MENTOR_PASSWORD, fill_in_form, seed_practicum


@pytest.fixture(scope="module")
def practicum(site):
    """Install the practicum pack and a mentor of learner1 on the module's live site."""
    seed_practicum(site.data_dir, SITE_ENV)
    return site


def observed(site_db) -> list[tuple[str, str]]:
    return site_db(
        "SELECT e.id, u.username FROM events e JOIN users u ON u.id = e.user_id "
        "WHERE e.verb = 'observed' AND e.object = ?",
        FORM,
    )


def outbox(page) -> list[dict]:
    stored = json.loads(page.evaluate("() => localStorage.getItem('kru.observations.v1') || '{}'"))
    return [o for queue in stored.values() for o in queue]


def test_an_observation_made_offline_arrives_once_and_the_student_teacher_reflects(
    practicum, page, context, site_db
):
    page.clock.install()
    sign_in(page, "mentor1", MENTOR_PASSWORD)
    page.goto("/observe")
    row = page.locator("#students tr", has_text="learner1")
    row.get_by_role("link", name=km("Observe"), exact=True).click()
    page.wait_for_selector("#observe-form")
    assert km(
        "This form keeps working when the phone leaves the Wi-Fi: press Save, and it is kept "
        "on this phone and sent once when the phone is back on the site's Wi-Fi."
    ) in page.inner_text("main")

    context.set_offline(True)  # the mentor walks to the practicum school
    fill_in_form(page)
    page.get_by_role("button", name=km("Save the observation")).click()
    status = page.locator("#observe-status")
    status.wait_for(state="visible")
    (kept,) = outbox(page)
    page.clock.run_for(16_000)  # three retries with no network: nothing lost, nothing sent
    assert [o["id"] for o in outbox(page)] == [kept["id"]]
    assert observed(site_db) == []
    assert "Wi-Fi" in status.inner_text()

    context.set_offline(False)  # back at the college
    page.clock.run_for(6_000)
    page.wait_for_function(
        "() => Object.values(JSON.parse(localStorage.getItem('kru.observations.v1') || '{}'))"
        ".every(q => q.length === 0)",
        polling=100,
    )
    assert status.inner_text() == km("The observation was sent to the site.")
    assert observed(site_db) == [(kept["id"], "learner1")]

    # A resend (a reply lost on the way back) stores nothing twice.
    page.evaluate(
        "(one) => fetch('/api/v1/observations', {method: 'POST', credentials: 'same-origin',"
        " headers: {'Content-Type': 'application/json', 'X-CSRFToken':"
        " document.querySelector('meta[name=csrf-token]').content}, body: JSON.stringify(one)})",
        kept,
    )
    page.clock.run_for(6_000)
    assert observed(site_db) == [(kept["id"], "learner1")]
    row = site_db("SELECT result FROM events WHERE id = ?", kept["id"])[0]
    criteria = json.loads(row[0])["extensions"]["https://kru.example/xapi/criteria"]
    assert {c["competency"] for c in criteria} >= {"CTPS.1.1", "CTPS.4.1"}

    # Item 8: the student teacher reads it and adds a reflection.
    page.context.clear_cookies()
    sign_in(page, "learner1")
    page.get_by_role("link", name=km("My observations")).click()
    page.wait_for_selector(".observation")
    assert "សិស្សនៅខាងក្រោយមិនបានអាន។" in page.inner_text("main")
    page.fill("textarea[name=text]", "ខ្ញុំនឹងដើរជុំវិញថ្នាក់ ដើម្បីស្ដាប់សិស្សគ្រប់គ្នាអាន។")
    with page.expect_navigation():
        page.get_by_role("button", name=km("Save my reflection")).click()
    assert "ខ្ញុំនឹងដើរជុំវិញថ្នាក់" in page.locator(".reflection").inner_text()
    assert site_db("SELECT count(*) FROM events WHERE verb = 'reflected'") == [(1,)]
