"""HTML5 app files: reachable only through a signed link that expires, streamed from the zip.

The memory test runs a real ``kru serve``: 8 requests at once for one 48 MB app file used to
hold 8 copies of it in the worker (issue 12: 73 MB to 735 MB for a 60 MB file).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from content_packs import html5
from edge_server.web.i18n import load_catalog
from tests.livesite import KRU, LiveSite
from tests.packs_factory import build_pack, install, media
from tests.upload_support import MIB, Client

TEXT = ("សួស្តី គ្រូ " * 20_000).encode()  # compresses well: stored deflated
VIDEO = os.urandom(3 * MIB + 17)  # .mp4: stored as is
FILES = {
    "index.html": '<link rel="stylesheet" href="style.css"><h1>សួស្តី</h1>',
    "style.css": "h1 { color: teal }",
    "words.txt": TEXT,
    "media/clip.mp4": VIDEO,
}


@pytest.fixture
def app_url(app, client, login_as, tmp_path) -> str:
    install(app, build_pack(tmp_path, items=[media("html5", "game", files=FILES)]))
    login_as("learner")
    html = client.get("/learn/items/demo-pack/game").get_data(as_text=True)
    src = re.search(r'<iframe class="app" src="([^"]+)"', html).group(1)
    client.delete_cookie("session")  # the sandboxed app's requests carry no cookie
    return src


def _sibling(app_url: str, name: str) -> str:
    return urljoin(app_url, name)


def test_the_item_page_links_the_app_with_an_expiring_token(app_url):
    token = app_url.split("/")[4]
    expires = int(token.split("-")[0])
    hours = (expires - time.time()) / 3600
    assert html5.LINK_HOURS <= hours <= html5.LINK_HOURS + 1


def test_files_next_to_the_entry_open_with_the_same_token(client, app_url):
    response = client.get(_sibling(app_url, "style.css"))
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert response.headers["Content-Security-Policy"].startswith("sandbox allow-scripts")
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("name", ["words.txt", "media/clip.mp4"])
def test_whole_members_come_byte_for_byte(client, app_url, name):
    expected = TEXT if name == "words.txt" else VIDEO
    response = client.get(_sibling(app_url, name))
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(expected))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.data == expected


@pytest.mark.parametrize("name", ["words.txt", "media/clip.mp4"])
def test_a_range_is_answered_with_206_and_those_bytes(client, app_url, name):
    expected = TEXT if name == "words.txt" else VIDEO
    start, end = len(expected) // 2, len(expected) // 2 + 99_999
    response = client.get(_sibling(app_url, name), headers={"Range": f"bytes={start}-{end}"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(expected)}"
    assert response.data == expected[start : end + 1]


def test_an_unchanged_member_is_not_sent_again(client, app_url):
    first = client.get(_sibling(app_url, "style.css"))
    again = client.get(
        _sibling(app_url, "style.css"), headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304 and again.data == b""


def _swap_token(app_url: str, token: str) -> str:
    parts = app_url.split("/")
    parts[4] = token
    return "/".join(parts)


@pytest.mark.parametrize(
    "token",
    [
        "0123456789abcdef01234567",  # the old, never-expiring form
        "",
        "9999999999-" + "0" * 32,  # a far expiry with no valid signature
        "abc-def",
    ],
)
def test_an_unsigned_link_is_refused(client, app_url, token):
    response = client.get(_swap_token(app_url, token))
    assert response.status_code == 404
    if token:  # (an empty one matches no route: the site's own 404 page)
        assert "Set-Cookie" not in response.headers


def test_a_link_for_another_item_is_refused(app, client, app_url):
    secret = app.config["SECRET_KEY"].encode()
    other = html5.app_token(secret, "demo-pack/other", time.time())
    assert client.get(_swap_token(app_url, other)).status_code == 404


def test_a_later_expiry_with_the_old_signature_is_refused(client, app_url):
    token = app_url.split("/")[4]
    expires, signature = token.split("-")
    forged = f"{int(expires) + 86400}-{signature}"
    assert client.get(_swap_token(app_url, forged)).status_code == 404


def test_an_expired_link_is_refused(app, client, app_url):
    secret = app.config["SECRET_KEY"].encode()
    old = html5.app_token(secret, "demo-pack/game", time.time() - (html5.LINK_HOURS + 2) * 3600)
    html5.check_app_token(secret, "demo-pack/game", old, time.time() - 3 * 3600)  # was good
    response = client.get(_swap_token(app_url, old))
    assert response.status_code == 403
    message = load_catalog("km").gettext(
        "This activity's link has expired; open the activity again"
    )
    assert response.get_data(as_text=True) == message
    assert "Set-Cookie" not in response.headers


def test_opening_the_item_again_renews_the_link():
    secret = b"k" * 32
    now = 1_700_000_000
    first = html5.app_token(secret, "p/game", now)
    later = html5.app_token(secret, "p/game", now + (html5.LINK_HOURS + 3) * 3600)
    with pytest.raises(html5.AppLinkExpired):
        html5.check_app_token(secret, "p/game", first, now + (html5.LINK_HOURS + 3) * 3600)
    html5.check_app_token(secret, "p/game", later, now + (html5.LINK_HOURS + 3) * 3600)
    assert html5.app_token(secret, "p/game", now + 60) == first  # stable within the hour


# --- a real server ----------------------------------------------------------------------

BIG = 48 * MIB


@pytest.fixture(scope="module")
def big_app_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveSite, str]]:
    root = tmp_path_factory.mktemp("html5-big")
    home = root / "home"
    env = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", "KRU_LOG_LEVEL": "WARNING"}
    big = os.urandom(BIG)
    # The same bytes stored as they are (.mp4, as the builder keeps media) and deflated.
    files = {"index.html": "<h1>app</h1>", "media/big.mp4": big, "media/big.bin": big}
    pack = build_pack(root, items=[media("html5", "big", files=files)])
    digest = hashlib.sha256(big).hexdigest()
    for args in (
        ["pack", "install", str(pack)],
        ["user", "add", "dara", "--password", "lotus-pond-7"],
    ):
        subprocess.run([*KRU, "--data-dir", str(home), *args], check=True, timeout=120, env=env)
    with LiveSite(home, ["--workers", "1", "--threads", "8"]) as live:
        yield live, digest


def _vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(key)


@pytest.mark.parametrize("name", ["media/big.mp4", "media/big.bin"])
def test_eight_downloads_of_a_big_app_file_keep_the_worker_small(big_app_site, name):
    live, digest = big_app_site
    learner = Client.sign_in(live.url, "dara", "lotus-pond-7")
    html = learner.http.get(f"{live.url}/learn/items/demo-pack/big", timeout=10).text
    src = re.search(r'<iframe class="app" src="([^"]+)"', html).group(1)
    url = urljoin(live.url + src, name)
    pid = live.proc.pid
    requests.get(urljoin(live.url + src, "index.html"), timeout=10)  # warm up the route
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # start the peak (VmHWM) afresh
    before = _vm(pid, "VmHWM")
    digests: list[str] = []

    def fetch() -> None:
        sha = hashlib.sha256()
        with requests.get(url, stream=True, timeout=(5, 120)) as response:  # no cookie
            assert response.status_code == 200
            for block in response.iter_content(256 * 1024):
                sha.update(block)
        digests.append(sha.hexdigest())

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert digests == [digest] * 8
    # The peak, not the end: whole-file reads held 8 copies (384 MB) at once. What is left
    # is waitress's own sending, a few MB per connection on loopback (whose sockets get
    # 4 MB send buffers), the same as for pack files served from the content store.
    grown = _vm(pid, "VmHWM") - before
    # Each connection holds a few blocks (more for a compressed member, inflated block by
    # block); a whole-file read per request grew 8 x BIG before (issue 12 item 4).
    assert grown < 3 * BIG, f"the worker's peak grew by {grown // MIB} MB"


def test_a_range_of_a_big_app_file_from_a_real_server(big_app_site):
    live, _digest = big_app_site
    learner = Client.sign_in(live.url, "dara", "lotus-pond-7")
    html = learner.http.get(f"{live.url}/learn/items/demo-pack/big", timeout=10).text
    src = re.search(r'<iframe class="app" src="([^"]+)"', html).group(1)
    url = urljoin(live.url + src, "media/big.bin")
    response = requests.get(url, headers={"Range": "bytes=40000000-40000009"}, timeout=30)
    assert response.status_code == 206 and len(response.content) == 10
    assert response.headers["Content-Range"] == f"bytes 40000000-40000009/{BIG}"
