"""A file far over a form's cap, sent through the real page: Chromium shows Kru's Khmer 413.

The server refuses such a body as its headers arrive (``capped_channel``) and answers while
Chromium is still uploading; the page must be that answer, not "connection reset". (On
Linux, Chromium reads an answer that came before a reset, so this held before the server
lingered on the rest of the body too: the raw-socket tests in test_route_caps_live.py show
the reset itself. This one keeps the whole path, form to page, honest.)
"""

from __future__ import annotations

from pathlib import Path

from edge_server.web import bodylimit
from tests.browser.harness import km
from tests.browser.test_admin_journey import sign_in_khmer

DEMO_CONTENT = False
MIB = 1024 * 1024


def test_a_class_list_far_over_the_cap_gets_the_khmer_413_page(page, tmp_path: Path):
    big = tmp_path / "class.csv"
    with big.open("wb") as out:  # 200 MiB, as a video picked by mistake would be
        out.write(b"username,display_name\n")
        out.truncate(200 * MIB)
    sign_in_khmer(page)
    page.goto("/admin/users/import")
    page.set_input_files("#file", str(big))
    with page.expect_navigation() as navigation:
        page.locator("main form button[type=submit]").click()
    response = navigation.value
    assert response is not None and response.status == 413
    message = km(bodylimit.DEFAULT.message, limit=1)
    assert message in page.locator("main").inner_text()
