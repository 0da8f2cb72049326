"""``GET /healthz``: for the load balancer and the operators' monitoring (no sign-in)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from . import health

bp = Blueprint("central_health", __name__)


@bp.get("/healthz")
def healthz():
    ok, body = health.check()
    body["status"] = "ok" if ok else "unhealthy"
    return jsonify(body), 200 if ok else 503
