"""The one JSON error shape of the API: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.wrappers import Response

from ..base.errors import KruError


def wants_json() -> bool:
    """Return whether the current request is for the API (and so gets JSON errors)."""
    return request.path.startswith("/api/") or request.path == "/healthz"


def api_error(code: str, message: str, status: int, **extra: Any) -> tuple[Response, int]:
    """Return the API error body with ``status``; ``extra`` fields join the error object."""
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    return jsonify({"error": body}), status


def error_response(exc: KruError, message: str) -> tuple[Response, int]:
    return api_error(exc.code, message, exc.status, **exc.details)
