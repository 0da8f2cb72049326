"""The upload page sends a multi-MB pack in resumable chunks through the real page.

Chromium uploads with the vendored tus-js-client against a real ``kru serve``; one chunk's
request is dropped on the way and the page continues from where the server stands.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from edge_server.base.uploads import CHUNK_BYTES
from tests.browser.harness import sign_in
from tests.upload_support import random_pack

DEMO_CONTENT = False


@pytest.fixture(scope="module")
def big_pack(tmp_path_factory) -> str:
    """A real pack of about 20 MB of random bytes: three chunks."""
    return str(random_pack(tmp_path_factory.mktemp("upload-page"), 20, "browser-pack"))


def sign_in_english(page) -> None:
    sign_in(page, "instructor")
    if page.locator("html").get_attribute("lang") != "en":
        with page.expect_navigation():
            page.locator("header button[name=lang][value=en]").click()


def _stored_files_match(site, pack: str) -> None:
    with zipfile.ZipFile(pack) as zf:
        for entry in json.loads(zf.read("manifest.json"))["files"]:
            stored = site.data_dir / "content" / entry["sha256"][:2] / entry["sha256"]
            assert hashlib.sha256(stored.read_bytes()).hexdigest() == entry["sha256"]


def test_a_twenty_mb_pack_uploads_in_chunks_through_the_page(page, site, site_db, big_pack):
    sign_in_english(page)
    patches: list[str] = []
    dropped: list[str] = []

    def drop_the_second_chunk(route, request) -> None:
        if request.method == "PATCH":
            patches.append(request.headers["upload-offset"])
            if request.headers["upload-offset"] == str(CHUNK_BYTES) and not dropped:
                dropped.append(request.headers["upload-offset"])
                route.abort("connectionreset")
                return
        route.continue_()

    page.route("**/api/v1/uploads/**", drop_the_second_chunk)
    page.goto("/packs/upload")
    page.set_input_files("#pack-file", big_pack)
    page.get_by_role("button", name="Upload and install").click()
    expect(page.locator("#pack-result")).to_have_text(
        "Installed browser-pack 1.0.0.", timeout=120_000
    )
    assert page.locator("#pack-progress").evaluate("bar => bar.value") == 100
    assert page.locator("#pack-percent").inner_text() == "100%"
    # The dropped chunk was sent again from where the server stood, and only that one.
    assert dropped == [str(CHUNK_BYTES)]
    assert patches == ["0", str(CHUNK_BYTES), str(CHUNK_BYTES), str(2 * CHUNK_BYTES)]
    assert site_db("SELECT installed_by FROM packs WHERE pack_id = 'browser-pack'") == [
        ("instructor",)
    ]
    _stored_files_match(site, big_pack)
    assert not list((site.data_dir / "tmp" / "uploads").iterdir())


def test_a_file_over_the_limit_is_refused_before_sending(page, tmp_path):
    sign_in_english(page)
    page.goto("/packs/upload")
    limit = int(page.locator("#pack-upload").get_attribute("data-limit"))
    huge = tmp_path / "huge.zip"
    with open(huge, "wb") as fh:  # sparse: nothing is written to disk
        fh.truncate(limit + 1)
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if "/api/" in request.url else None)
    page.set_input_files("#pack-file", str(huge))
    page.get_by_role("button", name="Upload and install").click()
    expect(page.locator("#pack-result")).to_have_text(
        f"The pack is larger than this site's upload limit of {limit // (1024 * 1024)} MB"
    )
    assert sent == []


def test_the_upload_bar_counts_in_khmer_digits_on_a_khmer_page(page, tmp_path_factory):
    """Issue 14 item 17: "43%" written by the script is "៤៣%" on a Khmer page."""
    pack = str(random_pack(tmp_path_factory.mktemp("upload-km"), 12, "khmer-digits-pack"))
    sign_in(page, "instructor")
    if page.locator("html").get_attribute("lang") != "km":
        with page.expect_navigation():
            page.locator("header button[name=lang][value=km]").click()
    page.goto("/packs/upload")
    page.evaluate(
        """() => {
             window.seenPercents = [];
             const shown = document.getElementById('pack-percent');
             new MutationObserver(() => window.seenPercents.push(shown.textContent))
               .observe(shown, {childList: true, characterData: true, subtree: true});
           }"""
    )
    page.set_input_files("#pack-file", pack)
    page.locator("#pack-upload button[type=submit]").click()
    page.wait_for_function("() => window.seenPercents.includes('១០០%')", timeout=120_000)
    seen = page.evaluate("() => window.seenPercents")
    assert len(seen) >= 2, seen
    assert all(re.fullmatch("[០-៩]+%", text) for text in seen), seen
