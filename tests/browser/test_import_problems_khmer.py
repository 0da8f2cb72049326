"""A bad class-list row is explained in Khmer on the Khmer page."""

from tests.browser.test_admin_journey import BAD_ROW, HEADER, sign_in_khmer, upload
from tests.browser.test_khmer_pages import english_fragments

DEMO_CONTENT = False


def test_bad_row_problem_is_explained_in_khmer(page):
    sign_in_khmer(page)
    upload(page, "class.csv", HEADER + BAD_ROW)
    problem = page.locator("#problems tbody td").nth(1).inner_text()
    assert [f for f in english_fragments() if f in problem] == []
