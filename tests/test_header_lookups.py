"""Our per-request code reads a header that may be missing without raising inside Werkzeug.

``request.headers.get("X")`` and properties such as ``request.content_length`` look the header
up with ``environ[...]`` and catch the ``KeyError`` when it is absent: a raise and a catch
per missing header per request, on every page and every ``/healthz`` (docs/performance.md).
Each request here goes through a real waitress on loopback, as ``kru serve`` runs the app,
and the worker threads count the ``KeyError`` that Werkzeug's headers raise for our code.
"""

from __future__ import annotations

import http.client
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import pytest

from edge_server import accounts
from edge_server.base.db import db
from edge_server.base.server import _trusted_proxies, _waitress
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[1]
OURS = (str(ROOT / "edge_server"), str(ROOT / "sync"))
HEADERS = "werkzeug/datastructures/headers.py"


class KeyErrorCounter:
    """A trace function for server threads: counts the KeyErrors Werkzeug's headers raise,
    by the first frame outside Werkzeug that asked (``path:line``)."""

    def __init__(self) -> None:
        self.on = threading.Event()
        self.asked: Counter[str] = Counter()

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        return self._local if self.on.is_set() else None

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "exception" and arg[0] is KeyError:
            tb: TracebackType | None = arg[2]
            if tb is not None and tb.tb_next is None and HEADERS in frame.f_code.co_filename:
                caller: FrameType | None = frame
                while caller is not None and "/werkzeug/" in caller.f_code.co_filename:
                    caller = caller.f_back
                if caller is not None:
                    self.asked[f"{caller.f_code.co_filename}:{caller.f_lineno}"] += 1
        return self._local

    def ours(self) -> dict[str, int]:
        return {where: n for where, n in self.asked.items() if where.startswith(OURS)}


@contextmanager
def serving(app) -> Iterator[tuple[int, KeyErrorCounter]]:
    """Serve ``app`` on a real waitress (port 0) with its worker threads traced."""
    app.config["KRU_KEEP_DB_CONNECTIONS"] = True
    counter = KeyErrorCounter()
    threading.settrace(counter)  # the worker threads start inside create_server
    try:
        server = _waitress(app, 2, 20, None, _trusted_proxies(app), host="127.0.0.1", port=0)
    finally:
        threading.settrace(None)  # type: ignore[arg-type]  # the stubs lack None
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.effective_port, counter
    finally:
        server.trigger.pull_trigger(server.close)  # closed in its own loop, which then ends
        thread.join(timeout=10)
        server.task_dispatcher.shutdown(timeout=10)


@pytest.fixture
def served(app) -> Iterator[tuple[int, KeyErrorCounter]]:
    with serving(app) as port_and_counter:
        yield port_and_counter


def _get(port: int, path: str, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _session_cookie(app) -> str:
    with app.app_context():
        db.connect(reuse_if_open=True)
        accounts.create_user("learner9", PASSWORD)
    client = app.test_client()
    token = client.get("/api/v1/session").get_json()["csrf_token"]
    signed = client.post(
        "/api/v1/session",
        json={"username": "learner9", "password": PASSWORD},
        headers={"X-CSRFToken": token},
    )
    assert signed.status_code == 200
    return f"session={client.get_cookie('session').value}"


# wrk sends only Host (and the bench's Cookie); a phone sends Accept and Accept-Encoding too.
BARE: dict[str, str] = {}
PHONE = {"Accept": "text/html,*/*;q=0.8", "Accept-Encoding": "gzip", "User-Agent": "Android"}


def _count(port: int, counter: KeyErrorCounter, path: str, headers: dict[str, str]) -> dict:
    assert _get(port, path, headers) == 200  # warm: first-use imports and caches
    counter.on.set()
    for _ in range(3):
        assert _get(port, path, headers) == 200
    counter.on.clear()
    return counter.ours()


@pytest.mark.parametrize("extra", [BARE, PHONE], ids=["bare", "phone"])
@pytest.mark.parametrize("path", ["/healthz", "/learn/", "/static/learn/icons.svg"])
def test_a_site_request_raises_no_keyerror_for_our_header_lookups(app, served, path, extra):
    headers = {**extra, "Cookie": _session_cookie(app)} if path == "/learn/" else dict(extra)
    assert _count(*served, path, headers) == {}
    assert sys.gettrace() is None


def test_a_central_request_raises_no_keyerror_for_our_header_lookups(central_app):
    with serving(central_app) as served:
        assert _count(*served, "/healthz", BARE) == {}
