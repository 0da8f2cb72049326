"""Signing in and the ``/api/v1/session`` endpoints, shared by the site and central servers.

Each server passes its own ``authenticate(username, password)``; the rate limit
(``app.extensions["kru_login_limiter"]``), the session handling and the JSON shapes
(``user_json``) are the same on both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, jsonify, request, session
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf

from ..base import passwords
from ..base.datahome import DataHome
from .api_errors import api_error
from .ratelimit import LoginLimiter

Authenticate = Callable[[str, str], Any]


def init_sessions(
    app: Flask, settings: Any, home: DataHome, database: Any, secret_name: str, days: int
) -> None:
    """Set the cookie, CSRF, sign-in limit and password-hash settings both servers share.

    The secret key is made on first start and kept in ``home``'s secrets as ``secret_name``.
    """
    app.config.update(
        KRU=settings,
        KRU_HOME=home,
        SECRET_KEY=home.read_or_create_secret(secret_name),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=days),
        WTF_CSRF_TIME_LIMIT=None,  # a phone's page may stay open all day
        WTF_CSRF_HEADERS=["X-CSRFToken", "X-CSRF-Token"],
        JSON_SORT_KEYS=False,
    )
    app.extensions["kru_login_limiter"] = LoginLimiter(
        database,
        settings["auth.login_limit"],
        settings["auth.login_limit_per_address"],
        enabled=settings["auth.rate_limit"],
    )
    passwords.configure(
        settings["auth.hash_memory_kib"],
        settings["auth.hash_time_cost"],
        settings["auth.hash_concurrency"],
    )


def sign_in(authenticate: Authenticate, username: str, password: str) -> Any:
    """Count the attempt against the rate limit, check the credentials, start a session.

    Returns the user, or None for wrong credentials.

    Raises:
        RateLimited: too many attempts from this address or for this username.
    """
    current_app.extensions["kru_login_limiter"].hit(request.remote_addr or "?", username or "")
    user = authenticate(username, password)
    if user is not None:
        session.clear()
        session.permanent = True
        login_user(user)
    return user


def session_blueprint(
    authenticate: Authenticate, to_json: Callable[[Any], dict[str, Any] | None]
) -> Blueprint:
    """Return a blueprint serving GET, POST and DELETE ``/api/v1/session``."""
    bp = Blueprint("api_session", __name__, url_prefix="/api/v1")

    def body() -> dict[str, Any]:
        user = current_user._get_current_object() if current_user.is_authenticated else None
        return {"user": to_json(user), "csrf_token": generate_csrf()}

    @bp.get("/session")
    def get_session():  # noqa: ANN202
        return jsonify(body())

    @bp.post("/session")
    def create_session():  # noqa: ANN202
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
    def delete_session():  # noqa: ANN202
        logout_user()
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
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
