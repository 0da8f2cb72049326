"""Sign-in sessions (Flask-Login) and role checks for pages and API endpoints, for both apps."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_babel import gettext
from flask_login import LoginManager, current_user

from . import sessions
from .api_errors import api_error


def init_login(app: Flask, login_endpoint: str) -> None:
    """Give ``app`` sign-in sessions (``sessions.init_sessions`` must have set up its store).

    The user of a request is the active user of the open server-side session named in its
    cookie (``sessions.load_user``). A page that needs a user sends the visitor to
    ``login_endpoint`` and back; the API answers 401 in the JSON error shape.
    """
    manager = LoginManager(app)
    manager.user_loader(sessions.load_user)
    # The hook Flask-Login keeps for this (maxcountryman/flask-login#316).
    manager._session_identifier_generator = session_identifier

    @manager.unauthorized_handler
    def _unauthorized():
        if request.path.startswith("/api/"):
            return api_error("unauthorized", gettext("Please sign in first."), 401)
        return redirect(url_for(login_endpoint, next=_come_back_to()))


IDENTIFIERS_KEPT = 256  # (address, user agent) pairs per process: a few classes of phones


def session_identifier() -> str:
    """Return Flask-Login's session identifier of this request, the value its
    ``_create_identifier`` makes: SHA-512 of the first ``X-Forwarded-For`` address (else the
    peer's) and the ``User-Agent``.

    Session protection asks it on every request that loads the user: the hash is made once
    per (address, agent), and the headers are read from the WSGI environ, without the
    ``KeyError`` Werkzeug raises and catches for each missing one (issue 22).
    """
    environ = request.environ
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    return _identifier(
        environ.get("REMOTE_ADDR") if forwarded is None else forwarded,
        environ.get("HTTP_USER_AGENT"),
    )


@lru_cache(maxsize=IDENTIFIERS_KEPT)
def _identifier(address: str | None, agent: str | None) -> str:
    first = None if address is None else address.encode("utf-8").split(b",")[0].strip()
    user_agent = None if agent is None else agent.encode("utf-8")
    # Flask-Login formats the bytes (or None) as they print: b'10.42.0.17'|b'Mozilla/5.0 ...'.
    return hashlib.sha512(f"{first!r}|{user_agent!r}".encode()).hexdigest()


def _come_back_to() -> str | None:
    """Return where signing in should lead: this page, or for a form sent after the session
    expired (a quiz, issue 14) the page the form was on, whose script kept the answers."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return None


def role_required(*roles: str) -> Callable:
    """Let only signed-in users with one of ``roles`` through (401 / 403 otherwise)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]  # Flask-Login sets it
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
