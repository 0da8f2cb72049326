"""Error handlers shared by the site server and the central server.

API paths get the one JSON error shape; pages get the one error template with the message
in the user's language. Rate-limit errors carry ``Retry-After``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, got_request_exception, make_response, render_template, request
from flask.globals import request_ctx
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..base.errors import N_, KruError
from . import bodylimit
from .api_errors import api_error, error_response, wants_json

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


def _ensure_url_adapter() -> None:
    """Give the error page a way to build its links when the request's Host had none.

    Werkzeug refuses a Host it cannot encode (a label of 64+ characters): the request then
    has no URL adapter, and the error page's first ``url_for`` crashed the error handler
    itself, so the phone got a bare 500. Links on the page are relative, so any name works.
    """
    ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy
    if ctx.url_adapter is None:
        ctx.url_adapter = current_app.url_map.bind(
            "localhost", script_name=request.script_root or "/", url_scheme=request.scheme
        )


def install(app: Flask) -> None:
    """Register handlers for Kru's typed errors, CSRF failures, HTTP errors and crashes."""

    def render(status: int, code: str, message: str, **extra: Any):
        if wants_json():
            return api_error(code, message, status, **extra)
        _ensure_url_adapter()
        return make_response(render_template("error.html", status=status, message=message), status)

    @app.errorhandler(KruError)
    def _kru_error(exc: KruError):
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
    def _csrf_error(exc: CSRFError):
        return render(
            400,
            "csrf_failed",
            gettext(
                "The form expired or was not sent from this site; reload the page and try again."
            ),
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        if status == 413:  # a body over its endpoint's cap, found while reading it
            return _kru_error(bodylimit.current_error())
        code, message = HTTP_MESSAGES.get(status, ("http_error", exc.description or ""))
        return render(status, code, gettext(message))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        # Flask sends this only for exceptions no handler took; this handler takes them
        # all, so it sends it itself (the site notes a damaged database from it).
        got_request_exception.send(current_app._get_current_object(), exception=exc)  # type: ignore[attr-defined]
        return render(
            500, "internal_error", gettext("Something went wrong on the server; it was logged.")
        )
