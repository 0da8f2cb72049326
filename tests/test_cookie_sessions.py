"""The session cookie's signature is checked once per process and cookie (issue 22), and
that never lets a tampered, expired or re-keyed cookie through, nor one request's changes
reach another."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import flash, session

from edge_server.web.cookie_sessions import KruSessionInterface


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_the_serializer_is_built_once_per_key(app):
    interface = app.session_interface
    assert isinstance(interface, KruSessionInterface)
    first = interface.get_signing_serializer(app)
    assert interface.get_signing_serializer(app) is first
    app.secret_key = "another key"
    assert interface.get_signing_serializer(app) is not first


def test_a_signed_in_cookie_is_verified_once_and_still_works(app, client, login_as):
    login_as("learner")
    assert client.get("/learn/").status_code == 200
    kept = app.session_interface.verified_count
    assert kept >= 1  # this cookie (and the one of the sign-in page before it)
    for _ in range(3):
        assert client.get("/learn/").status_code == 200
    assert app.session_interface.verified_count == kept


def test_a_tampered_copy_of_a_verified_cookie_is_refused(app, client, login_as):
    login_as("learner")
    assert client.get("/learn/").status_code == 200
    value = _cookie(client)
    payload, signature = value.rsplit(".", 1)
    forged = app.test_client()
    forged.set_cookie("session", payload + "." + signature[::-1])
    assert forged.get("/learn/").status_code == 302  # to the sign-in page


def test_a_verified_cookie_expires_with_the_session_lifetime(app, client, login_as):
    login_as("learner")
    assert client.get("/learn/").status_code == 200
    app.permanent_session_lifetime = timedelta(seconds=1)
    time.sleep(2.1)
    assert client.get("/learn/").status_code == 302


def test_a_new_secret_key_refuses_cookies_verified_under_the_old_one(app, client, login_as):
    login_as("learner")
    assert client.get("/learn/").status_code == 200
    app.secret_key = "a key made after a reinstall"
    assert client.get("/learn/").status_code == 302


def test_changes_to_one_requests_session_do_not_reach_the_next(app, client, login_as):
    @app.get("/test-touch-session")
    def touch():
        seen = session.get("probe")
        session["probe"] = "changed"
        flash("hello")
        return {"seen": seen}

    login_as("learner")
    cookie = _cookie(client)

    other = app.test_client()
    for _ in range(3):
        other.set_cookie("session", cookie)  # the same cookie each time, as a phone sends it
        assert other.get("/test-touch-session").get_json() == {"seen": None}


def test_flashed_messages_are_shown_once(app, client, login_as):
    @app.get("/test-flash")
    def flash_one():
        flash("saved once")
        return "ok"

    login_as("learner")

    client.get("/test-flash")
    assert "saved once" in client.get("/learn/").get_data(as_text=True)
    assert "saved once" not in client.get("/learn/").get_data(as_text=True)


def test_an_unchanged_session_adds_only_vary_cookie(app, client, login_as):
    login_as("learner")
    plain = client.get("/learn/")
    assert plain.headers.get_all("Vary") == ["Cookie"]
    assert "Set-Cookie" not in plain.headers
    packed = client.get("/learn/", headers={"Accept-Encoding": "gzip"})
    assert packed.headers.get_all("Vary") == ["Accept-Encoding, Cookie"]
    assert "Set-Cookie" not in packed.headers


def test_a_changed_session_is_still_sent_and_an_emptied_one_deleted(app, client, login_as):
    @app.get("/kru-test/change-session")
    def _change():
        session["kru_test"] = "changed"
        return "changed"

    @app.get("/kru-test/empty-session")
    def _empty():
        session.clear()
        return "emptied"

    login_as("learner")
    changed = client.get("/kru-test/change-session")
    assert changed.headers["Set-Cookie"].startswith("session=")
    assert changed.headers.get_all("Vary") == ["Cookie"]
    emptied = client.get("/kru-test/empty-session")
    assert emptied.headers["Set-Cookie"].startswith("session=;")
    assert emptied.headers.get_all("Vary") == ["Cookie"]
