"""Signing in and out and the ``/api/v1/session`` endpoints, shared by the site and central.

Each server passes its own ``authenticate(username, password)`` and its user and session
models; the rate limit (``app.extensions["kru_login_limiter"]``), the server-side sessions
(``app.extensions["kru_sessions"]``) and the JSON shapes (``user_json``) are the same on both.

A session is a row in the database (``user_sessions`` on the site, ``central_sessions`` on
central) named by the sha256 of a random token kept in the signed cookie. The user loader reads
the user and that row in one query, so signing out, a new password, a new role or a
deactivation (which delete the rows) end a copied cookie at once, in every server process and
after a restart. Flask-Login's "remember me" cookie is never set.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    jsonify,
    make_response,
    render_template,
    request,
    session,
)
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf

from ..base import passwords
from ..base.datahome import DataHome
from ..base.db import raw_models
from .api_errors import api_error
from .cookie_sessions import KruSessionInterface
from .i18n import khmer_digits
from .ratelimit import LoginLimiter, RateLimited

Authenticate = Callable[[str, str], Any]
SESSION_KEY = "kru_sid"  # the session cookie's key holding the server-side session token


class SessionStore:
    """Server-side sessions of one user model, kept in ``session_model``'s table."""

    def __init__(self, user_model: Any, session_model: Any, lifetime_s: float) -> None:
        self.users = user_model
        self.rows = session_model
        self.lifetime_s = lifetime_s
        self._load_sql: str | None = None

    def _user_query_sql(self) -> str:
        """SQL of the user and their session's expiry by (digest, user id, now), built once.

        Building it with peewee on every request cost a signed-in page about a tenth of its
        time (issue 22).
        """
        if self._load_sql is None:
            from peewee import SQL

            users, rows = self.users, self.rows
            # The database's own placeholder: "?" for SQLite, "%s" for PostgreSQL (central).
            value = SQL(getattr(users._meta.database, "param", "?"))
            query = (
                users.select(users, rows.expires_at.alias("session_expires_at"))
                .join(rows, on=(rows.user == users.id))
                .where((rows.id == value) & (users.id == value) & (rows.expires_at > value))
            )
            sql, params = query.sql()
            if params:
                raise ValueError(f"the session query binds values {params!r}")
            self._load_sql = sql
        return self._load_sql

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def start(self, user: Any) -> str:
        """Open a session for ``user`` and return its token (forgetting expired sessions)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.rows._meta.database.atomic():
            self.rows.delete().where(self.rows.expires_at < now).execute()
            self.rows.insert(
                id=self._digest(token),
                user=user.id,
                created_at=now,
                expires_at=now + self.lifetime_s,
            ).execute()
        return token

    def load(self, user_id: str, token: str | None) -> Any:
        """Return the active user whose open session has ``token``, or None (one query).

        An active session is extended when half its lifetime has passed, so a phone in daily
        use stays signed in without a write on every request; the user's ``session_extended``
        then says so (the cookie is renewed with it).
        """
        if not token or not isinstance(token, str):
            return None
        try:
            uid = int(user_id)
        except (TypeError, ValueError):
            return None
        rows = self.rows
        now = time.time()
        digest = self._digest(token)
        # A plain cursor, not peewee's raw(): its wrappers were half of loading the user,
        # a twentieth of a learner page (issue 22).
        found = raw_models(self.users, self._user_query_sql(), (digest, uid, now))
        user = found[0] if found else None
        if user is None or not user.active:
            return None
        user.session_extended = False
        if user.session_expires_at - now < self.lifetime_s / 2:
            rows.update(expires_at=now + self.lifetime_s).where(rows.id == digest).execute()
            user.session_extended = True
        return user

    def end(self, token: str | None) -> None:
        """End the session with ``token`` (nothing when there is none)."""
        if token and isinstance(token, str):
            self.rows.delete().where(self.rows.id == self._digest(token)).execute()


def init_sessions(
    app: Flask,
    settings: Any,
    home: DataHome,
    database: Any,
    secret_name: str,
    days: int,
    *,
    user_model: Any,
    session_model: Any,
) -> None:
    """Set the cookie, CSRF, sign-in limit, session store and password-hash settings both
    servers share.

    The secret key is made on first start and kept in ``home``'s secrets as ``secret_name``.
    """
    app.config.update(
        KRU=settings,
        KRU_HOME=home,
        SECRET_KEY=home.read_or_create_secret(secret_name),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=days),
        # The cookie is signed again only when it changes or the server-side session is
        # extended (``load_user``), not on every answer: signing and compressing it cost a
        # learner page a tenth of its CPU time (issue 22).
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_TIME_LIMIT=None,  # a phone's page may stay open all day
        WTF_CSRF_HEADERS=["X-CSRFToken", "X-CSRF-Token"],
        JSON_SORT_KEYS=False,
    )
    app.session_interface = KruSessionInterface()
    app.extensions["kru_login_limiter"] = LoginLimiter.from_settings(database, settings)
    app.extensions["kru_sessions"] = SessionStore(user_model, session_model, days * 86400)
    passwords.configure(
        settings["auth.hash_memory_kib"],
        settings["auth.hash_time_cost"],
        settings["auth.hash_concurrency"],
    )


def load_user(user_id: str) -> Any:
    """Flask-Login's user loader for both servers: the user of this cookie's open session.

    When the session was extended the cookie is sent again, with the new expiry.
    """
    user = current_app.extensions["kru_sessions"].load(user_id, session.get(SESSION_KEY))
    if user is not None and user.session_extended:
        session.modified = True
    return user


def login_limiter() -> LoginLimiter:
    return current_app.extensions["kru_login_limiter"]


def sign_in(authenticate: Authenticate, username: str, password: str) -> Any:
    """Count the attempt against the sign-in limits, check the credentials, start a session.

    Returns the user, or None for wrong credentials. A successful sign-in is not counted.

    Raises:
        RateLimited: too many attempts from this address, for this username from this
            address, or for this account from anywhere (its message in the page's digits).
    """
    return _checked(authenticate, username, password, start=True)


def _checked(authenticate: Authenticate, username: str, password: str, *, start: bool) -> Any:
    """Return the user with these credentials, or None; only a failure stays counted.

    With ``start``, a session is opened in the transaction that uncounts the attempt.

    Raises:
        RateLimited: see ``sign_in``.
    """
    limiter = login_limiter()
    try:
        attempt = limiter.hit(request.remote_addr or "?", username or "")
    except RateLimited as exc:
        raise exc.with_digits(khmer_digits) from None
    user = authenticate(username, password)
    if user is not None:
        with limiter.db.atomic():  # one commit (one fsync) for both writes
            limiter.forget(attempt)
            if start:
                start_session(user)
    return user


def start_session(user: Any) -> None:
    """Open a server-side session for ``user`` in this browser (its cookie holds the token)."""
    token = current_app.extensions["kru_sessions"].start(user)
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = token
    login_user(user)


def account_lock_minutes(username: str) -> int | None:
    """Return the minutes left on ``username``'s sign-in lock, or None when it is not locked."""
    seconds = login_limiter().account_lock(username)
    return None if seconds is None else math.ceil(seconds / 60)


def rate_limited_page(exc: RateLimited, username: str, next_url: str | None) -> Response:
    """Return the sign-in page again, saying how long to wait (429 with Retry-After)."""
    flash(exc.localized(gettext), "error")
    response = make_response(
        render_template(
            "login.html", username=username, next=next_url, retry_after=exc.retry_after
        ),
        exc.status,
    )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def sign_out() -> None:
    """End this browser's session on the server and clear its cookie (keeping its language)."""
    current_app.extensions["kru_sessions"].end(session.get(SESSION_KEY))
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def session_blueprint(
    authenticate: Authenticate,
    to_json: Callable[[Any], dict[str, Any] | None],
    set_password: Callable[[Any, str], object],
) -> Blueprint:
    """Return a blueprint serving GET, POST and DELETE ``/api/v1/session`` and
    ``POST /api/v1/session/password``.

    ``set_password(user, new)`` checks the rule (raising WeakPassword), stores the new password
    and ends every session of the user.
    """
    bp = Blueprint("api_session", __name__, url_prefix="/api/v1")

    def body() -> dict[str, Any]:
        user = current_user._get_current_object() if current_user.is_authenticated else None
        return {"user": to_json(user), "csrf_token": generate_csrf()}

    @bp.get("/session")
    def get_session():
        return jsonify(body())

    @bp.post("/session")
    def create_session():
        data = request.get_json(silent=True)
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("username"), str)
            or not isinstance(data.get("password"), str)
        ):
            return api_error(
                "invalid_body", gettext('Send JSON with "username" and "password".'), 400
            )
        if sign_in(authenticate, data["username"], data["password"]) is None:
            return api_error("bad_credentials", gettext("Wrong username or password."), 401)
        return jsonify(body())

    @bp.delete("/session")
    def delete_session():
        sign_out()
        return jsonify(body())

    @bp.post("/session/password")
    def change_password():
        if not current_user.is_authenticated:
            return api_error("unauthorized", gettext("Please sign in first."), 401)
        data = request.get_json(silent=True)
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("current_password"), str)
            or not isinstance(data.get("new_password"), str)
        ):
            return api_error(
                "invalid_body",
                gettext('Send JSON with "current_password" and "new_password".'),
                400,
            )
        user = current_user._get_current_object()
        # A wrong current password counts like a wrong sign-in: a stolen phone's session must
        # not become a way around the sign-in limits.
        if _checked(authenticate, user.username, data["current_password"], start=False) is None:
            return api_error("bad_credentials", gettext("The current password is wrong."), 403)
        set_password(user, data["new_password"])  # ends every session, this one too
        start_session(user)
        return jsonify(body())

    return bp


def user_json(user: Any) -> dict[str, Any] | None:
    """Return a signed-in account as the session API shows it (the same on both servers)."""
    if user is None:
        return None
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "language": user.language,
    }


def safe_next(target: str | None) -> str | None:
    """Return ``target`` if it is a same-site path to go to after signing in, else None."""
    if not target:
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # "http://[" and the like: no URL at all
        return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ord(ch) < 32 for ch in target):
        return None
    return target
