"""What ``kru sync status``, the site admin panel and the modem heartbeat report."""

from __future__ import annotations

from typing import Any

from peewee import Database

from edge_server.base.datahome import DataHome
from edge_server.base.settings import Settings

from . import state
from .identity import central_url, load_identity


def status_from_db(settings: Settings, home: DataHome, db: Database) -> dict[str, Any]:
    """Return the sync status of the site whose database ``db`` is open."""
    identity = load_identity(home)
    current = state.read_state(db)
    return {
        "device_id": identity.device_id,
        "provisioned": identity.provisioned,
        "central_url": central_url(identity, settings["sync.central_url"]),
        "cursor": current.cursor,
        "pending_events": state.pending_events(db, current.cursor),
        "last_success_at": current.last_success_at,
        "last_attempt_at": current.last_attempt_at,
        "last_error": current.last_error,
        "last_error_code": current.last_error_code,
        "failures_in_a_row": current.failures,
        "clock_offset_s": current.clock_offset_s,
        "bytes_today": state.bytes_today(db),
        "budget_bytes": int(settings["sync.daily_budget_mb"] * 1024 * 1024),
        "quarantined_batches": len(state.quarantined(db)),
    }
