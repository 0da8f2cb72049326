"""``/api/v1/session``: who am I, sign in, sign out."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext
from flask_login import current_user, logout_user
from flask_wtf.csrf import generate_csrf

from ..api import api_error
from ..auth import user_json
from .core import sign_in

bp = Blueprint("api_session", __name__, url_prefix="/api/v1")


def _session_body() -> dict:
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
        return api_error(
            "invalid_body",
            gettext('Send JSON with "username" and "password".'),
            400,
        )
    user = sign_in(data["username"], data["password"])
    if user is None:
        return api_error("bad_credentials", gettext("Wrong username or password."), 401)
    return jsonify(_session_body())


@bp.delete("/session")
def delete_session():  # noqa: ANN201
    logout_user()
    return jsonify(_session_body())
