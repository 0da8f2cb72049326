"""The central JSON API: session (shared with the site), devices, completion, xAPI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext
from flask_login import current_user

from edge_server.web import sessions
from edge_server.web.api_errors import api_error
from edge_server.web.sessions import session_blueprint, user_json

from . import registry, reports, xapi

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


def sign_in(username: str, password: str):  # a CentralUser or None
    """Sign in to the central server (rate limited); return the user or None."""
    return sessions.sign_in(registry.authenticate, username, password)


session_bp = session_blueprint(
    registry.authenticate, user_json, lambda user, new: registry.set_password(user.username, new)
)


@bp.get("/devices")
@api_role("admin")
def devices():
    return jsonify({"devices": reports.site_rows()})


@bp.get("/completion")
@api_role("admin", "viewer")
def completion():
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
def xapi_statements():
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
    settings = current_app.config["KRU"]
    page = xapi.statements_page(
        after, limit, settings["central.public_url"], names=settings["central.xapi_names"]
    )
    body: dict[str, Any] = {"statements": page["statements"], "more": ""}
    if page["next_after"] is not None:
        body["more"] = f"{request.path}?after={page['next_after']}&limit={limit}"
    return jsonify(body)
