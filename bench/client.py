"""Sign in as a phone does (``/api/v1/session``) and fetch pages, with timeouts."""

from __future__ import annotations

import requests

TIMEOUT = (5, 60)  # connect, read (seconds)
# A phone's browser sends the same User-Agent at sign-in and afterwards; Flask-Login's
# session protection marks the session "not fresh" (and the cookie is signed and sent
# again) on each request whose address or User-Agent differ from the sign-in's. wrk sends
# this one too (bench/lua/common.lua).
USER_AGENT = "Mozilla/5.0 (Linux; Android 10) Kru-bench"


def phone() -> requests.Session:
    """Return a requests session that identifies itself as the benchmark's phones do."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


class SignInFailed(RuntimeError):
    """The server refused a sign-in the benchmark needs."""


def session_cookie(session: requests.Session) -> str:
    """Return the Cookie header a browser would send for ``session``'s cookies."""
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def csrf_token(session: requests.Session, url: str) -> str:
    """Return the CSRF token of a fresh or signed-in session (GET /api/v1/session)."""
    response = session.get(f"{url}/api/v1/session", timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()["csrf_token"]


def sign_in(session: requests.Session, url: str, username: str, password: str) -> str:
    """Sign ``session`` in and return its new CSRF token.

    Raises:
        SignInFailed: the server answered with anything but 200.
    """
    token = csrf_token(session, url)
    return post_sign_in(session, url, token, username, password)


def post_sign_in(
    session: requests.Session, url: str, token: str, username: str, password: str
) -> str:
    """Send the sign-in POST with a token from ``csrf_token``; return the new token.

    Raises:
        SignInFailed: the server answered with anything but 200.
    """
    response = session.post(
        f"{url}/api/v1/session",
        json={"username": username, "password": password},
        headers={"X-CSRFToken": token},
        timeout=TIMEOUT,
    )
    if response.status_code != 200:
        raise SignInFailed(f"sign-in of {username} answered {response.status_code}")
    return response.json()["csrf_token"]
