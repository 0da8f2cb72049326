"""Issue 14 items 13-15, the site admin: the sync card says its state and next step and shows
the answer of "Sync now" in itself; the modem card says what to do, in Khmer; accounts have a
search box, a made-up password shown once, a required name, and sign-in slips after import."""

from __future__ import annotations

from playwright.sync_api import expect

from sync.edge import advice as sync_advice
from sync.modem import advice as modem_advice
from tests.browser.harness import km, sign_in

DEMO_CONTENT = False
LAPTOP = {"width": 1280, "height": 800}


def as_admin(page, lang: str) -> None:
    sign_in(page, "admin")
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation():
            page.locator(f"header button[name=lang][value={lang}]").click()
    assert page.locator("html").get_attribute("lang") == lang


def test_sync_card_on_a_khmer_phone_says_the_state_and_answers_sync_now_in_place(page):
    as_admin(page, "km")
    page.goto("/admin/")
    card = page.locator("#sync")
    assert card.get_attribute("data-state") == "not_provisioned"  # a demo site has no central
    assert card.locator(".sync-sentence").inner_text() == km(
        "This site is not yet registered with the ministry's server."
    )
    assert km("Next step:") in card.locator(".sync-next").inner_text()
    assert "kru " not in card.inner_text()  # no shell commands for a site admin
    with page.expect_navigation():
        card.get_by_role("button", name=km("Sync now")).click()
    # No sync daemon runs beside this test server: the card says so, and what to do.
    result = page.locator("#sync #sync-result")
    assert result.inner_text() == km(sync_advice.NOT_RUNNING.text)
    assert page.url.endswith("#sync")
    top = result.bounding_box()["y"]
    assert 0 <= top < 740  # in view on the phone, not at the top of a long page
    # The sync answer is not a message at the top (the backup reminder may be there, issue 19).
    assert page.locator("main > .flash:not(#backup-reminder)").count() == 0
    page.reload()
    assert page.locator("#sync-result").count() == 0  # said once


def test_sync_card_in_english_on_a_laptop(page):
    page.set_viewport_size(LAPTOP)
    as_admin(page, "en")
    page.goto("/admin/")
    card = page.locator("#sync")
    assert "This site is not yet registered with the ministry's server." in card.inner_text()
    assert "Ask the ministry's IT team for this site's provisioning file" in card.inner_text()


def test_modem_card_says_what_to_do_in_khmer_and_english(page):
    as_admin(page, "km")
    page.goto("/admin/")
    card = page.locator("#modem")
    state = card.get_attribute("data-state")
    line = card.locator(".modem-advice").inner_text()
    assert line == f"{km('What to do:')} {km(modem_advice.ADVICE[state])}"
    with page.expect_navigation():
        page.locator("header button[name=lang][value=en]").click()
    page.set_viewport_size(LAPTOP)
    line = page.locator("#modem .modem-advice").inner_text()
    assert line == f"What to do: {modem_advice.ADVICE[state]}"


def test_accounts_search_finds_by_name_or_username(page):
    as_admin(page, "km")
    page.goto("/admin/users")
    page.fill("#q", "learner2")
    with page.expect_navigation():
        page.locator("#account-search button").click()
    rows = page.locator("main table tbody tr td:first-child").all_inner_texts()
    assert rows == ["learner2"]
    page.fill("#q", "nobody-has-this-name")
    with page.expect_navigation():
        page.locator("#account-search button").click()
    assert page.locator("main table tbody").inner_text().strip() == km(
        "No account matches %(words)s.", words="nobody-has-this-name"
    )


def test_make_up_a_password_shows_it_once_and_it_signs_in(browser, site, page):
    as_admin(page, "km")
    page.goto("/admin/users?q=learner4")
    with page.expect_navigation():
        page.get_by_role("link", name="learner4", exact=True).click()
    with page.expect_navigation():
        page.get_by_role("button", name=km("Make up a password")).click()
    field = page.locator("#made-password-value")
    made = field.input_value()
    assert field.get_attribute("type") == "text" and field.get_attribute("readonly") is not None
    assert len(made) == 8 and made.isdigit()
    page.goto(page.url)  # the same page again: the password is not shown a second time
    assert page.locator("#made-password-value").count() == 0
    phone = browser.new_context(viewport={"width": 360, "height": 740}, base_url=site.url)
    try:
        sign_in(phone.new_page(), "learner4", made)
    finally:
        phone.close()


def test_a_new_account_needs_a_name_said_in_khmer(page, site_db):
    as_admin(page, "km")
    page.goto("/admin/users/new")
    page.fill("#username", "noname1")
    page.fill("#password", "lotus-pond-7")
    page.locator("main form button[type=submit]").click()
    message = page.locator("#display_name").evaluate("el => el.validationMessage")
    assert message == km("Enter the person's name as their instructor knows it.")
    assert site_db("SELECT count(*) FROM users WHERE username = 'noname1'") == [(0,)]


def test_import_gives_one_printable_slip_per_student(page):
    page.set_viewport_size(LAPTOP)
    as_admin(page, "en")
    page.goto("/admin/users/import")
    rows = "username,display_name,cohort\nslip1,សុខា ចាន់,Class B\nslip2,Vibol Sao,Class B\n"
    page.set_input_files(
        "#file", files=[{"name": "c.csv", "mimeType": "text/csv", "buffer": rows.encode()}]
    )
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    slips = page.locator("#created .slip")
    expect(slips).to_have_count(2)
    first = slips.first
    assert first.locator(".slip-name").inner_text() == "សុខា ចាន់"
    assert first.locator(".slip-cohort").inner_text() == "Class B"
    assert first.locator(".slip-username").inner_text() == "slip1"
    assert first.locator(".slip-password").inner_text().isdigit()
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator("main form").first.is_visible()
    assert slips.first.is_visible()
    page.emulate_media(media="screen")
