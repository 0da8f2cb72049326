"""Error handlers shared by the site server and the central server.

API paths get the one JSON error shape; pages get the app's error template with the message
in the user's language. Rate-limit errors carry ``Retry-After``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, make_response, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from . import bodylimit
from .api import api_error, error_response, wants_json
from .errors import N_, KruError

log = logging.getLogger(__name__)

# Messages of HTTP errors, translated when shown.
HTTP_MESSAGES = {
    400: ("bad_request", N_("The request was not understood.")),
    401: ("unauthorized", N_("Please sign in first.")),
    403: ("forbidden", N_("You do not have permission to open this page.")),
    404: ("not_found", N_("This page does not exist.")),
    405: ("method_not_allowed", N_("This action is not allowed here.")),
    429: ("rate_limited", N_("Too many requests; wait a moment and try again.")),
}


def install(app: Flask, template: str = "error.html") -> None:
    """Register handlers for Kru's typed errors, CSRF failures, HTTP errors and crashes."""

    def render(status: int, code: str, message: str, **extra: Any):  # noqa: ANN202
        if wants_json():
            return api_error(code, message, status, **extra)
        return make_response(render_template(template, status=status, message=message), status)

    @app.errorhandler(KruError)
    def _kru_error(exc: KruError):  # noqa: ANN202
        message = exc.localized(gettext)
        if wants_json():
            response, status = error_response(exc, message)
        else:
            status = exc.status
            response = render(status, exc.code, message)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response, status

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):  # noqa: ANN202
        return render(
            400,
            "csrf_failed",
            gettext(
                "The form expired or was not sent from this site; reload the page and try again."
            ),
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # noqa: ANN202
        status = exc.code or 500
        if status == 413:  # a body over its endpoint's cap, found while reading it
            return _kru_error(bodylimit.current_error())
        code, message = HTTP_MESSAGES.get(status, ("http_error", exc.description or ""))
        return render(status, code, gettext(message))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # noqa: ANN202
        log.exception("unexpected error on %s %s", request.method, request.path)
        return render(
            500, "internal_error", gettext("Something went wrong on the server; it was logged.")
        )
