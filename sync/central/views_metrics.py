"""``GET /metrics`` for Prometheus, and the hooks that time and count sync batches."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from flask_babel import gettext

from edge_server.web.api_errors import api_error

from . import metrics

log = logging.getLogger(__name__)

bp = Blueprint("central_metrics", __name__)

BATCHES_ENDPOINT = "central_sync.batches"


def allowed(remote: str | None, authorization: str | None, settings: object) -> bool:
    """Return whether a scrape from ``remote`` with ``authorization`` may read the metrics."""
    token = settings["central.metrics_token"]  # type: ignore[index]
    if token and authorization and authorization.startswith("Bearer "):
        if hmac.compare_digest(authorization[7:].strip().encode(), token.encode()):
            return True
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    for entry in settings["central.metrics_allow"]:  # type: ignore[index]
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a mistyped entry opens nothing
    return False


@bp.get("/metrics")
def scrape():
    settings = current_app.config["KRU"]
    if not allowed(request.remote_addr, request.headers.get("Authorization"), settings):
        return api_error(
            "metrics_forbidden",
            gettext("Metrics are open only to configured addresses or with the metrics token."),
            403,
        )
    body, content_type = metrics.render(settings)
    return Response(body, content_type=content_type)


def install(app: Flask) -> None:
    """Time every batch upload and count its outcome in the shared metric counters."""

    @app.before_request
    def _start() -> None:
        if request.endpoint == BATCHES_ENDPOINT:
            g.kru_batch_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.pop("kru_batch_started", None)
        if started is None:
            return response
        if response.status_code < 400:
            metrics.record_ingest(time.perf_counter() - started)
        else:
            body = response.get_json(silent=True) or {}
            error = body.get("error") if isinstance(body, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            reason = str(code or f"http_{response.status_code}")
            log.warning("sync batch refused: %s (HTTP %s)", reason, response.status_code)
            metrics.record_reject(reason)
        return response
