"""The central JSON API: session, devices, completion, xAPI statements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, jsonify, request, session
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf

from edge_server.api import api_error

from . import registry, reports

bp = Blueprint("central_api", __name__, url_prefix="/api/v1")

MAX_PAGE = 1000


def api_role(*roles: str) -> Callable:
    """Let only signed-in central users with one of ``roles`` through (401/403 JSON)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return api_error("unauthorized", gettext("Please sign in first."), 401)
            if roles and current_user.role not in roles:
                return api_error("forbidden", gettext("Only an admin may do this."), 403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def user_json(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.username,
        "role": user.role,
        "language": None,
    }


def sign_in(username: str, password: str):  # noqa: ANN201 - a CentralUser or None
    """Count the attempt against the rate limit, then check the credentials."""
    current_app.extensions["kru_login_limiter"].hit(request.remote_addr or "?", username or "")
    user = registry.authenticate(username, password)
    if user is not None:
        session.clear()
        session.permanent = True
        login_user(user)
    return user


def _session_body() -> dict[str, Any]:
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return {"user": user_json(user), "csrf_token": generate_csrf()}


@bp.get("/session")
def get_session():  # noqa: ANN201
    return jsonify(_session_body())


@bp.post("/session")
def create_session():  # noqa: ANN201
    data = request.get_json(silent=True)
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("username"), str)
        or not isinstance(data.get("password"), str)
    ):
        return api_error("invalid_body", gettext('Send JSON with "username" and "password".'), 400)
    if sign_in(data["username"], data["password"]) is None:
        return api_error("bad_credentials", gettext("Wrong username or password."), 401)
    return jsonify(_session_body())


@bp.delete("/session")
def delete_session():  # noqa: ANN201
    logout_user()
    return jsonify(_session_body())


@bp.get("/devices")
@api_role("admin")
def devices():  # noqa: ANN201
    return jsonify({"devices": reports.site_rows()})


@bp.get("/completion")
@api_role("admin", "viewer")
def completion():  # noqa: ANN201
    by_site = reports.completion_by_site()
    names = {row["id"]: row for row in reports.site_rows()}
    from .models import Device

    ids = {d.id: d.device_id for d in Device.select(Device.id, Device.device_id)}
    return jsonify(
        {
            "sites": [
                {
                    "id": ids[pk],
                    "name": names[ids[pk]]["name"],
                    "courses": [asdict(c) for c in courses],
                }
                for pk, courses in sorted(by_site.items())
            ],
            "provinces": [
                {"province": p, "courses": [asdict(c) for c in courses]}
                for p, courses in sorted(reports.completion_by_province().items())
            ],
        }
    )


@bp.get("/xapi/statements")
@api_role("admin")
def xapi_statements():  # noqa: ANN201
    try:
        limit = int(request.args.get("limit", 100))
        after = int(request.args.get("after", 0))
    except ValueError:
        return api_error("invalid_paging", gettext("limit and after must be whole numbers."), 400)
    if not 1 <= limit <= MAX_PAGE or after < 0:
        return api_error(
            "invalid_paging",
            gettext("limit must be 1 to %(max)s and after not negative.", max=MAX_PAGE),
            400,
        )
    page = reports.xapi_statements(after, limit, current_app.config["KRU"]["central.public_url"])
    body: dict[str, Any] = {"statements": page["statements"], "more": ""}
    if page["next_after"] is not None:
        body["more"] = f"{request.path}?after={page['next_after']}&limit={limit}"
    return jsonify(body)
