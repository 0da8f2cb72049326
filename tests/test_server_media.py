"""Pack files from a real ``kru serve``: whole files and Range answers carry the right bytes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from tests.livesite import KRU, LiveSite

SAMPLE = Path(__file__).parent.parent / "content_packs" / "examples" / "classroom-reading"
PDF = SAMPLE / "handouts" / "reading-tracker.pdf"
ENV = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", "KRU_LOG_LEVEL": "WARNING"}


def _kru(home: Path, *args: str) -> None:
    subprocess.run(  # our own CLI
        [*KRU, "--data-dir", str(home), *args],
        check=True,
        capture_output=True,
        timeout=120,
        env=ENV,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveSite, object]]:
    root = tmp_path_factory.mktemp("media")
    home = root / "home"
    _kru(home, "pack", "build", str(SAMPLE), "-o", str(root / "sample.zip"))
    _kru(home, "pack", "install", str(root / "sample.zip"))
    _kru(home, "user", "add", "amy", "--password", "lotus-pond-7")
    with LiveSite(home, ["--workers", "2"]) as live:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        url = f"{live.url}/api/v1/session"
        token = json.loads(opener.open(url, timeout=5).read())["csrf_token"]
        opener.open(
            urllib.request.Request(
                url,
                data=json.dumps({"username": "amy", "password": "lotus-pond-7"}).encode(),
                headers={"Content-Type": "application/json", "X-CSRFToken": token},
            ),
            timeout=5,
        ).read()
        yield live, opener


def _get(site, headers: dict[str, str] | None = None):
    live, opener = site
    sha = hashlib.sha256(PDF.read_bytes()).hexdigest()
    request = urllib.request.Request(f"{live.url}/c/{sha}", headers=headers or {})
    with opener.open(request, timeout=10) as response:
        return response.status, response.headers, response.read()


def test_whole_file_is_sent_byte_for_byte(site):
    status, headers, body = _get(site)
    assert status == 200
    assert body == PDF.read_bytes()
    assert headers["Accept-Ranges"] == "bytes"


def test_range_in_the_middle_sends_exactly_that_range(site):
    status, headers, body = _get(site, {"Range": "bytes=1000-50999"})
    size = PDF.stat().st_size
    assert status == 206
    assert headers["Content-Range"] == f"bytes 1000-50999/{size}"
    assert headers["Content-Length"] == "50000"
    assert body == PDF.read_bytes()[1000:51000]


def test_open_ended_range_sends_the_rest_of_the_file(site):
    status, _headers, body = _get(site, {"Range": "bytes=100000-"})
    assert status == 206
    assert body == PDF.read_bytes()[100000:]


def test_suffix_range_sends_the_last_bytes(site):
    status, _headers, body = _get(site, {"Range": "bytes=-500"})
    assert status == 206
    assert body == PDF.read_bytes()[-500:]


def test_ranges_on_one_connection_do_not_mix(site):
    import http.client

    live, opener = site
    sha = hashlib.sha256(PDF.read_bytes()).hexdigest()
    data = PDF.read_bytes()
    jar = [h for h in opener.handlers if isinstance(h, urllib.request.HTTPCookieProcessor)][0]
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar.cookiejar)
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    try:
        for start, stop in [(0, 99), (5000, 70000), (107000, 107465)]:
            conn.request(
                "GET", f"/c/{sha}", headers={"Range": f"bytes={start}-{stop}", "Cookie": cookies}
            )
            response = conn.getresponse()
            assert response.status == 206
            assert response.read() == data[start : stop + 1]
    finally:
        conn.close()


def test_unsatisfiable_range_is_refused(site):
    size = PDF.stat().st_size
    with pytest.raises(urllib.error.HTTPError) as caught:
        _get(site, {"Range": f"bytes={size + 10}-"})
    assert caught.value.code == 416
    caught.value.close()
