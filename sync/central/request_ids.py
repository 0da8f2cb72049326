"""A request id for every request the central server answers, for logs and the client.

The id comes from the proxy's ``X-Request-ID`` when it is a plain token (so nginx's
``$request_id`` ties its access log to ours), else a new random one. It is sent back in
``X-Request-ID`` and carried by every JSON log line written while the request is answered.
"""

from __future__ import annotations

import re
import uuid
from contextvars import Token

from flask import Flask, Response, g, request

from edge_server.base import logs

HEADER = "X-Request-ID"
_PLAIN = re.compile(r"[A-Za-z0-9._-]{8,64}")


def install(app: Flask) -> None:
    """Give each request an id, send it back and put it in the log lines of the request."""

    @app.before_request
    def _assign() -> None:
        # From the environ: ``request.headers.get`` raises and catches a KeyError per request
        # when the header is missing, as it mostly is.
        given = request.environ.get("HTTP_X_REQUEST_ID", "")
        rid = given if _PLAIN.fullmatch(given) else uuid.uuid4().hex
        g.kru_request_id = rid
        g.kru_request_token = logs.request_id.set(rid)

    @app.after_request
    def _send(response: Response) -> Response:
        rid = g.get("kru_request_id")
        if rid:
            response.headers[HEADER] = rid
        return response

    @app.teardown_request
    def _forget(exc: BaseException | None) -> None:
        token: Token | None = g.pop("kru_request_token", None)
        if token is not None:
            logs.request_id.reset(token)
