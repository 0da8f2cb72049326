"""Sign-in sessions and role checks for pages and API endpoints."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, redirect, request, url_for
from flask_login import LoginManager, current_user

from . import sessions
from .models import User

login_manager = LoginManager()


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return sessions.load_user(user_id)


@login_manager.unauthorized_handler
def _unauthorized():  # noqa: ANN202
    if request.path.startswith("/api/"):
        abort(401)
    return redirect(url_for("core.login", next=_come_back_to()))


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
                return login_manager.unauthorized()
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def user_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "language": user.language,
    }
