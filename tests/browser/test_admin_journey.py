"""Journey 4, the site admin in Khmer: import a class list, reset a password, read the status."""

from __future__ import annotations

from tests.browser.harness import km, new_phone_context, sign_in

DEMO_CONTENT = False

HEADER = "username,display_name,password,cohort\n"
GOOD_ROWS = "sokha,សុខា ចាន់,lotus-pond-7,ថ្នាក់ ខ\nvibol,វិបុល សៅ,lotus-pond-7,ថ្នាក់ ខ\n"
ASCII_DIGITS = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")
BAD_ROW = "bad name!,ឈ្មោះ,lotus-pond-7,ថ្នាក់ ខ\n"


def sign_in_khmer(page) -> None:
    """Sign in as the demo admin (whose account says English) and switch the UI to Khmer."""
    sign_in(page, "admin")
    if page.locator("html").get_attribute("lang") != "km":
        with page.expect_navigation():
            page.locator("header button[name=lang][value=km]").click()
    assert page.locator("html").get_attribute("lang") == "km"


def upload(page, name: str, text: str, skip_bad_rows: bool = False) -> None:
    page.goto("/admin/users/import")
    page.set_input_files(
        "#file", files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}]
    )
    if skip_bad_rows:
        page.check("input[name=skip_bad_rows]")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()


def test_bad_row_is_shown_with_its_line_and_fixed_file_imports(page, site_db):
    sign_in_khmer(page)
    # Line 1 is the header, so the bad row (third data row) is line 4: ៤ in Khmer digits.
    upload(page, "class.csv", HEADER + GOOD_ROWS + BAD_ROW)
    problems = page.locator("#problems tbody tr")
    assert problems.count() == 1
    assert problems.locator("td").first.inner_text() == "៤"
    assert page.locator("#problems h2").inner_text() == km("Rows with problems")
    assert site_db("SELECT count(*) FROM users WHERE username IN ('sokha', 'vibol')") == [(0,)]

    upload(page, "class-fixed.csv", HEADER + GOOD_ROWS + "dara2,ដារា កែវ,lotus-pond-7,ថ្នាក់ ខ\n")
    # Digits compared loosely: this flash shows ASCII digits while the tables show Khmer ones.
    flash = page.locator(".flash.success").inner_text()
    assert flash.translate(ASCII_DIGITS) == km("%(count)s account(s) imported.", count="3")
    created = page.locator("#created .slip-username").all_inner_texts()
    assert created == ["sokha", "vibol", "dara2"]
    assert page.locator("#problems").count() == 0


def test_reset_password_lets_the_learner_sign_in_with_the_new_one(browser, site, page):
    sign_in_khmer(page)
    page.goto("/admin/users?role=learner")
    with page.expect_navigation():
        page.get_by_role("link", name="learner3", exact=True).click()
    page.fill("#new-password", "new-pass-2026")
    with page.expect_navigation():
        page.get_by_role("button", name=km("Set password")).click()
    assert page.locator(".flash.success").inner_text() == km(
        "Password changed for %(name)s.", name="learner3"
    )

    phone = new_phone_context(browser, site.url)
    try:
        learner = phone.new_page()
        learner.goto("/login")
        learner.fill("#username", "learner3")
        learner.fill("#password", "demo1234")
        learner.locator("main form button[type=submit]").click()
        assert learner.locator(".flash.error").inner_text() == km("Wrong username or password.")
        sign_in(learner, "learner3", "new-pass-2026")
    finally:
        phone.close()


def test_site_page_shows_storage_and_sync_status(page):
    sign_in_khmer(page)
    page.goto("/admin/")
    storage = page.locator("#storage")
    assert storage.locator("h2").inner_text() == km("Storage")
    free_disk = storage.locator("dd").first.inner_text()
    assert free_disk.endswith("GB") and any("០" <= ch <= "៩" for ch in free_disk)
    sync = page.locator("#sync")
    assert sync.locator("[data-field=pending_events]").inner_text() == "០"
    assert sync.locator("button[type=submit]").is_visible()
