"""Flask-Login's session protection, with its identifier made once per (address, user agent).

Flask-Login stores a SHA-512 of the client's address and user agent in the session when a
user signs in and compares it on every request that loads the user; Kru makes the same
value (``auth.session_identifier``) without hashing again for a phone it has seen, and
without Werkzeug's ``KeyError`` for the missing ``X-Forwarded-For`` (issue 22). A cookie
used from another user agent or address still gets the protection the app configures.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
from flask import request
from flask_login import session_protected
from flask_login.utils import _create_identifier

from edge_server import accounts
from edge_server.base.db import db
from edge_server.web import auth
from tests.conftest import PASSWORD
from tests.test_header_lookups import KeyErrorCounter, serving

PHONE_A = "Mozilla/5.0 (Linux; Android 10; SM-A105F) Chrome/120 Mobile"
PHONE_B = "Mozilla/5.0 (Linux; Android 13; Redmi 12C) Chrome/120 Mobile"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"User-Agent": PHONE_A},
        {"User-Agent": "Kru ក្រុ é"},  # not ASCII (a WSGI server hands it on as Latin-1)
        {"X-Forwarded-For": "10.42.0.17"},
        {"X-Forwarded-For": " 10.42.0.17 , 127.0.0.1", "User-Agent": PHONE_B},
        {"X-Forwarded-For": "", "User-Agent": ""},
    ],
)
@pytest.mark.parametrize("address", ["10.42.0.5", None])
def test_the_identifier_is_flask_logins_own(app, headers, address):
    environ = {"REMOTE_ADDR": address} if address else {}
    encoded = {k: v.encode().decode("latin-1") for k, v in headers.items()}
    with app.test_request_context("/learn/", headers=encoded, environ_base=environ):
        if address is None:
            request.environ.pop("REMOTE_ADDR", None)  # a server that names no peer
        assert auth.session_identifier() == _create_identifier()


def test_a_phone_seen_again_is_not_hashed_again(app):
    with app.test_request_context("/learn/", headers={"User-Agent": PHONE_A}):
        auth.session_identifier()
        before = auth._identifier.cache_info()
        for _ in range(3):
            auth.session_identifier()
        after = auth._identifier.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (3, 0)
    assert after.maxsize == auth.IDENTIFIERS_KEPT


def _call(port: int, method: str, path: str, headers: dict, body: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = None if body is None else json.dumps(body)
        sent = {**headers, **({"Content-Type": "application/json"} if body else {})}
        conn.request(method, path, body=payload, headers=sent)
        response = conn.getresponse()
        return response.status, response.getheader("Set-Cookie"), response.read()
    finally:
        conn.close()


def _cookie(set_cookie: str | None) -> str:
    assert set_cookie is not None
    return set_cookie.split(";", 1)[0]


@pytest.fixture
def signed_in(app) -> Iterator[tuple[int, str, dict]]:
    """A real waitress; a learner signed in from phone A; yields (port, cookie, headers).

    The server's counter of Werkzeug's header ``KeyError`` is ``app.extensions["test_keys"]``.
    """
    with app.app_context():
        db.connect(reuse_if_open=True)
        accounts.create_user("learner7", PASSWORD)
    phone = {"User-Agent": PHONE_A, "X-Forwarded-For": "10.42.0.17"}
    with serving(app) as (port, counter):
        app.extensions["test_keys"] = counter
        status, set_cookie, body = _call(port, "GET", "/api/v1/session", phone)
        token = json.loads(body)["csrf_token"]
        status, set_cookie, body = _call(
            port,
            "POST",
            "/api/v1/session",
            {**phone, "Cookie": _cookie(set_cookie), "X-CSRFToken": token},
            {"username": "learner7", "password": PASSWORD},
        )
        assert status == 200, body
        yield port, _cookie(set_cookie), phone


def _session(app, cookie: str) -> dict:
    value = cookie.split("=", 1)[1]
    return app.session_interface.get_signing_serializer(app).loads(value)


def test_the_phone_that_signed_in_keeps_its_fresh_session(app, signed_in):
    port, cookie, phone = signed_in
    status, set_cookie, _body = _call(port, "GET", "/learn/", {**phone, "Cookie": cookie})
    assert (status, set_cookie) == (200, None)  # the session did not change
    assert _session(app, cookie)["_fresh"] is True


@pytest.mark.parametrize(
    "moved", [{"User-Agent": PHONE_B}, {"X-Forwarded-For": "10.42.0.99"}], ids=["agent", "address"]
)
def test_a_cookie_used_elsewhere_gets_basic_protection_as_kru_configures(app, signed_in, moved):
    port, cookie, phone = signed_in
    protected: list[object] = []

    def note(sender: object, **_extra: object) -> None:
        protected.append(sender)

    with session_protected.connected_to(note, app):
        status, set_cookie, _body = _call(
            port, "GET", "/learn/", {**phone, **moved, "Cookie": cookie}
        )
    assert app.config.get("SESSION_PROTECTION", "basic") == "basic"
    assert status == 200  # still signed in: "basic" only marks the session not fresh
    assert _session(app, _cookie(set_cookie))["_fresh"] is False
    assert protected == [app]


def test_loading_the_user_raises_no_keyerror_for_a_missing_header(app, signed_in):
    port, cookie, _phone = signed_in
    counter: KeyErrorCounter = app.extensions["test_keys"]
    bare = {"Cookie": cookie}  # wrk sends no User-Agent and no X-Forwarded-For
    assert _call(port, "GET", "/learn/", bare)[0] == 200
    counter.on.set()
    for _ in range(3):
        assert _call(port, "GET", "/learn/", bare)[0] == 200
    counter.on.clear()
    assert {where: n for where, n in counter.asked.items() if "flask_login" in where} == {}
