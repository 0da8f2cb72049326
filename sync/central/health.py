"""What ``/healthz`` on the central server checks: the database answers, migrations are current."""

from __future__ import annotations

from typing import Any

from edge_server.base import migrate

from .db import MIGRATIONS as PACKAGE
from .db import database


def check() -> tuple[bool, dict[str, Any]]:
    """Return (healthy, details): database reachable and no migration pending."""
    try:
        database.execute_sql("SELECT 1").fetchall()
        pending = [m.name for m in migrate.pending(database.obj, PACKAGE)]
    except Exception as exc:  # any failure is an unhealthy answer, not a crash
        return False, {"database": "unreachable", "error": type(exc).__name__}
    body: dict[str, Any] = {"database": "ok", "pending_migrations": pending}
    return not pending, body
