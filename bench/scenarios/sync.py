"""Sync: a term of events from a site to a central server; central ingest on PostgreSQL."""

from __future__ import annotations

from typing import Any

from ..core import Bench, NotAvailable, Scenario, Target


def sync_sqlite(bench: Bench) -> dict[str, Any]:
    raise NotAvailable("the sync agent and central server are not committed yet")


def central_postgres(bench: Bench) -> dict[str, Any]:
    raise NotAvailable("the central server's ingest is not committed yet")


SYNC_SQLITE = Scenario(
    "sync_sqlite",
    "Sync a term of events to a central server on SQLite, over loopback",
    sync_sqlite,
    (
        Target("Sync 100,000 events (s)", "total_s", "<=", 20, "s"),
        Target("Sync bytes on the wire per event", "bytes_per_event", "<=", 40, "B"),
    ),
)

CENTRAL_POSTGRES = Scenario(
    "central_postgres",
    "Central ingest on PostgreSQL, 4 sites pushing at once",
    central_postgres,
    (Target("Central ingest, 4 sites (events/s)", "events_per_s", ">=", 20000, "events/s"),),
)
