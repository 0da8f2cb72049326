"""Khmer text is drawn with the bundled Noto Sans Khmer, not tofu boxes or a fallback font."""

from __future__ import annotations

from tests.browser.harness import khmer_font_report, km, renders_with_bundled_font

DEMO_CONTENT = False


def test_sign_in_page_draws_khmer_with_the_bundled_font(page):
    page.goto("/login")
    assert page.locator("h1").inner_text() == km("Sign in")
    report = khmer_font_report(page)
    assert report["bodyFamily"].startswith('"Noto Sans Khmer"')
    assert renders_with_bundled_font(report), report


def test_check_notices_when_the_font_file_cannot_be_fetched(page):
    page.route("**/NotoSansKhmer-Regular.woff2", lambda route: route.abort())
    page.goto("/login")
    report = khmer_font_report(page)
    assert not renders_with_bundled_font(report), report
