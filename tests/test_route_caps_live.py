"""Each route's body cap holds in the server, as the request's headers arrive (real waitress).

Central takes a 256 MB release upload, so waitress's one server-wide limit is 256 MB there;
without per-route caps a body of up to 256 MB to the sign-in form or the 16 KiB status
report was read to a temporary file before the route refused it. Here a huge
Content-Length is declared, a few KB sent, and the route's 413 (its JSON error code, or
the error page) must come at once, the connection ended after it, nothing spooled; what
the client still sends is drained and dropped for a while (``capped_channel.LINGER_*``),
then the connection is cut.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from markupsafe import escape

from edge_server.base import capped_channel
from edge_server.web import bodylimit
from edge_server.web.i18n import load_catalog
from sync import protocol
from tests.bundle_factory import release_keys_dir, signed_release
from tests.livesite import LiveSite
from tests.sync_support import CentralServer
from tests.upload_support import (
    MIB,
    answer_before_body,
    open_temp_files,
    peak_memory_growth,
    process_tree,
    reset_peak_memory,
    upload_past_answer,
)

PASSWORD = "lotus-pond-7"
HUGE = 100 * MIB  # under central's 256 MB: only the route's own cap can refuse it


def _head(method: str, path: str, port: int, length: int | None, **headers: str) -> str:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    return "\r\n".join(lines) + "\r\n\r\n"


def _chunks(total: int, size: int = 4096) -> bytes:
    """``total`` bytes of body in chunks of ``size``, without the final empty chunk."""
    return b"".join(b"%x\r\n" % size + b"{" * size + b"\r\n" for _ in range(total // size))


def _json_code(answer) -> str:
    assert b"application/json" in answer.head, answer.head
    return json.loads(answer.body)["error"]["code"]


# --- central -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def release_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where signed_release signs with the key central trusts (release_keys_dir)."""
    return tmp_path_factory.mktemp("release-route-caps")


@pytest.fixture(scope="module")
def central(
    tmp_path_factory: pytest.TempPathFactory, release_root: Path
) -> Iterator[CentralServer]:
    root = tmp_path_factory.mktemp("central-route-caps")
    (root / "tmp").mkdir()
    server = CentralServer(root / "central")
    server.env["TMPDIR"] = str(root / "tmp")  # where waitress would spool a body
    server.env["KRU_CENTRAL_RELEASE_KEYS_DIR"] = str(release_keys_dir(release_root))
    server.start()
    server.cli("user", "add", "--username", "admin1", "--password", PASSWORD, "--role", "admin")
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/session", "body_too_large"),
        (protocol.BATCHES_PATH, protocol.E_BATCH_TOO_LARGE),
        (protocol.STATUS_PATH, protocol.E_BAD_STATUS),
        ("/api/v1/no-such-route", "body_too_large"),
    ],
)
def test_central_refuses_a_body_over_the_routes_cap_as_its_headers_arrive(central, path, code):
    head = _head("POST", path, central.port, HUGE, Content_Type="application/json")
    answer = answer_before_body(central.url, head, b"{" * 4096)
    assert answer.status == 413, answer
    assert _json_code(answer) == code
    assert answer.closed and not answer.cut  # the rest of the body drained, not reset


def test_central_sign_in_page_gets_the_error_page(central):
    head = _head(
        "POST", "/login", central.port, HUGE, Content_Type="application/x-www-form-urlencoded"
    )
    answer = answer_before_body(central.url, head, b"username=a&password=" + b"x" * 4096)
    assert answer.status == 413, answer
    assert b"text/html" in answer.head
    page = answer.body.decode()
    messages = [bodylimit.DEFAULT.message, load_catalog("km").gettext(bodylimit.DEFAULT.message)]
    assert any(str(escape(message % {"limit": 1})) in page for message in messages), page
    assert answer.closed


def _spool_watch(pid: int, folder: Path) -> tuple[list[str], Callable[[], None]]:
    """Return a list and a check that fills it, while the client is still sending, with the
    temporary files the server holds open."""
    seen: list[str] = []

    def look() -> None:
        time.sleep(0.5)  # time for the server to read what was sent, if it would
        seen.extend(open_temp_files(pid, folder))

    return seen, look


def test_central_spools_nothing_of_a_refused_body(central):
    # 2 MiB sent: waitress spools a body past 512 KB to a temporary file.
    head = _head("POST", protocol.STATUS_PATH, central.port, HUGE, Content_Type="application/json")
    spooled, look = _spool_watch(central.pid, central.data_dir.parent / "tmp")
    answer = answer_before_body(central.url, head, b"{" * (2 * MIB), meanwhile=look)
    assert spooled == []
    assert answer.status == 413
    assert _json_code(answer) == protocol.E_BAD_STATUS


def test_central_refuses_a_chunked_body_growing_past_the_cap(central):
    head = _head("POST", protocol.STATUS_PATH, central.port, None, Content_Type="application/json")
    # 64 KiB in chunks (four times the status report's 16 KiB), the body never ended.
    answer = answer_before_body(central.url, head, _chunks(64 * 1024))
    assert answer.status == 413, answer
    assert _json_code(answer) == protocol.E_BAD_STATUS
    assert answer.closed


def test_a_status_report_within_its_cap_is_still_read(central):
    response = requests.post(
        central.url + protocol.STATUS_PATH,
        data=b"{" * (protocol.MAX_STATUS_BYTES - 1),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code != 413  # read and judged as usual (no device signature)


def test_central_takes_a_release_bundle_of_tens_of_mb(central, release_root: Path):
    tar, sig = signed_release(release_root, "0.9.1", size=40 * 1_000_000)
    assert tar.stat().st_size > 40 * 1_000_000
    with requests.Session() as http:
        token = http.get(central.url + "/api/v1/session", timeout=10).json()["csrf_token"]
        signed = http.post(
            central.url + "/api/v1/session",
            json={"username": "admin1", "password": PASSWORD},
            headers={"X-CSRFToken": token},
            timeout=10,
        )
        assert signed.status_code == 200, signed.text
        token = signed.json()["csrf_token"]
        with open(tar, "rb") as bundle, open(sig, "rb") as signature:
            response = http.post(
                central.url + "/fleet/releases/add",
                files={"bundle": (tar.name, bundle), "signature": (sig.name, signature)},
                headers={"X-CSRFToken": token},
                allow_redirects=False,
                timeout=(5, 120),
            )
        assert response.status_code in (302, 303), response.text[:500]
        page = http.get(central.url + "/fleet/releases", timeout=10).text
    assert "<code>0.9.1</code>" in page.split('id="releases"')[1]


# --- the site --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, module_live_site) -> LiveSite:
    tmp = tmp_path_factory.mktemp("site-route-caps-tmp")
    return module_live_site(["--workers", "2"], env={"TMPDIR": str(tmp)})


# Over the site's default 1 MiB, under its server-wide cap (one resumable-upload chunk).
SITE_BODY = 6 * MIB


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/session"), ("POST", "/api/v1/events"), ("PUT", "/api/v1/no-such-route")],
)
def test_the_site_refuses_a_body_over_the_routes_cap_as_its_headers_arrive(site, method, path):
    head = _head(method, path, site.port, SITE_BODY, Content_Type="application/json")
    answer = answer_before_body(site.url, head, b"[" * 4096)
    assert answer.status == 413, answer
    assert _json_code(answer) == "body_too_large"
    assert answer.closed


def test_the_site_sign_in_page_gets_the_error_page_in_khmer(site):
    head = _head(
        "POST", "/login", site.port, SITE_BODY, Content_Type="application/x-www-form-urlencoded"
    )
    answer = answer_before_body(site.url, head, b"username=a&password=" + b"x" * 4096)
    assert answer.status == 413, answer
    assert b"text/html" in answer.head
    khmer = load_catalog("km").gettext(bodylimit.DEFAULT.message)
    assert str(escape(khmer % {"limit": 1})) in answer.body.decode()
    assert answer.closed


def test_the_site_spools_nothing_of_a_refused_body(site):
    head = _head("POST", "/api/v1/events", site.port, SITE_BODY, Content_Type="application/json")
    spooled, look = _spool_watch(site.pid, Path(site.env["TMPDIR"]))
    answer = answer_before_body(site.url, head, b"[" * (2 * MIB), meanwhile=look)
    assert spooled == []
    assert answer.status == 413


def test_the_site_refuses_a_chunked_body_growing_past_the_cap(site):
    head = _head("POST", "/api/v1/events", site.port, None, Content_Type="application/json")
    answer = answer_before_body(site.url, head, _chunks(2 * MIB))
    assert answer.status == 413, answer
    assert _json_code(answer) == "body_too_large"
    assert answer.closed


def test_a_client_that_waits_for_continue_is_answered_without_sending_the_body(central):
    head = _head(
        "POST",
        "/api/v1/session",
        central.port,
        HUGE,
        Content_Type="application/json",
        Expect="100-continue",
    )
    answer = answer_before_body(central.url, head, b"")
    assert answer.status == 413, answer  # not "100 Continue": the body is not wanted
    assert _json_code(answer) == "body_too_large"


def test_a_chunked_body_within_the_cap_is_read_as_before(central):
    head = _head("POST", protocol.STATUS_PATH, central.port, None, Content_Type="application/json")
    answer = answer_before_body(central.url, head, _chunks(8 * 1024) + b"0\r\n\r\n", more=0)
    assert answer.status in (400, 401), answer  # judged by the route (not signed), not 413


def test_chunk_framing_without_a_body_counts_against_the_cap_too(central):
    # A chunk-size line that never ends (waitress holds it in memory as it grows): 256 KiB
    # of framing to the 16 KiB status report is refused though no body byte came yet.
    head = _head("POST", protocol.STATUS_PATH, central.port, None, Content_Type="application/json")
    answer = answer_before_body(central.url, head, b"1;x=" + b"a" * (256 * 1024))
    assert answer.status == 413, answer
    assert _json_code(answer) == protocol.E_BAD_STATUS
    assert answer.closed


# --- a client still uploading when the 413 comes ----------------------------------------
# A browser sends its whole body before it reads the answer. Closed with that body unread,
# the server's socket answers the next bytes with a reset: the client's send fails with
# ECONNRESET, and a client whose stack drops received data on a reset (Windows), or whose
# answer was still on the way (a lossy link), sees "connection reset" and no 413.

UPLOAD = 200 * MIB  # a video sent to a route capped far lower


def test_a_browser_still_uploading_gets_the_sites_khmer_413_page(site):
    head = _head(
        "POST", "/login", site.port, UPLOAD, Content_Type="application/x-www-form-urlencoded"
    )
    got = upload_past_answer(site.url, head, after=8 * MIB)
    assert got.error == "", got.error
    assert got.sent_after >= 8 * MIB
    assert got.status == 413, got.answer[:300]
    khmer = load_catalog("km").gettext(bodylimit.DEFAULT.message)
    assert str(escape(khmer % {"limit": 1})) in got.body.decode()


def test_a_client_still_uploading_gets_centrals_json_413(central):
    head = _head(
        "POST", protocol.STATUS_PATH, central.port, UPLOAD, Content_Type="application/json"
    )
    got = upload_past_answer(central.url, head, after=8 * MIB)
    assert got.error == "", got.error
    assert got.status == 413, got.answer[:300]
    assert json.loads(got.body)["error"]["code"] == protocol.E_BAD_STATUS


def test_a_refused_body_is_drained_only_so_far_and_never_kept(central):
    head = _head(
        "POST", protocol.STATUS_PATH, central.port, UPLOAD, Content_Type="application/json"
    )
    before = reset_peak_memory(process_tree(central.pid))
    answer = answer_before_body(central.url, head, b"{" * 4096, more=UPLOAD)
    assert answer.status == 413 and answer.closed
    assert answer.cut  # not the whole 200 MiB: cut once LINGER_BYTES were drained
    assert answer.refused_after <= capped_channel.LINGER_BYTES + 16 * MIB  # + socket buffers
    assert peak_memory_growth(before) < 4 * MIB  # measured: under 1 MB


def test_a_client_silent_after_the_413_is_cut_after_the_idle_linger(central):
    with _refused_and_lingering(central.port, protocol.STATUS_PATH) as sock:
        time.sleep(capped_channel.LINGER_IDLE_S + 2)  # waitress's loop wakes each second
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(10):  # the first bytes to a closed socket only draw its reset
                sock.sendall(b"\0" * 1024)
                time.sleep(0.05)


def _refused_and_lingering(port: int, path: str) -> socket.socket:
    """Open a connection whose body ``path`` refused; read the 413; leave it open."""
    head = _head("POST", path, port, UPLOAD, Content_Type="application/json")
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head.encode("latin-1") + b"{" * 4096)
    assert b" 413 " in sock.recv(65536).split(b"\r\n", 1)[0]
    return sock


def test_a_client_trickling_after_the_413_is_cut_after_the_whole_linger(central):
    sock = _refused_and_lingering(central.port, protocol.STATUS_PATH)
    started = time.monotonic()
    with sock, pytest.raises((BrokenPipeError, ConnectionResetError)):
        while time.monotonic() - started < capped_channel.LINGER_S + 5:
            sock.sendall(b"\0" * 1024)  # less often than LINGER_IDLE_S: never idle
            time.sleep(0.5)
    assert capped_channel.LINGER_S - 1 < time.monotonic() - started < capped_channel.LINGER_S + 3


def test_lingering_connections_hold_no_worker_thread(central):
    # Central runs 8 threads (KRU_THREADS); 12 connections draining must leave them free.
    lingering = [_refused_and_lingering(central.port, protocol.STATUS_PATH) for _ in range(12)]
    try:
        for sock in lingering:
            sock.sendall(b"\0" * (256 * 1024))
        response = requests.get(central.url + "/healthz", timeout=2)
        assert response.status_code == 200
    finally:
        for sock in lingering:
            sock.close()


def test_a_connection_not_lingering_answers_the_loop_with_waitress_own_methods():
    """waitress's loop asks every open connection readable() and writable() on each turn
    (50 phones: 100 calls a turn). Session 6's lingering wrapped both for every connection,
    a tenth of a static file's CPU on one core (py-spy, 3 Dec 2026); only a connection that
    lingers after a refused body answers with its own."""
    from waitress.channel import HTTPChannel

    from edge_server.base.capped_channel import LingeringChannel, capped_channel

    for cls in (LingeringChannel, capped_channel(lambda method, path: 0)):
        assert cls.readable is HTTPChannel.readable
        assert cls.writable is HTTPChannel.writable
