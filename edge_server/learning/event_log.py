"""The event log as the other parts of Kru read it (the sync agent): the events after a
sequence number, oldest first, and how many wait."""

from __future__ import annotations

from typing import Any

from peewee import fn

from .models import Event

# seq, id, user_id, verb, object, result (JSON), context (JSON), client_ts, server_ts, boot_id
EventRow = tuple[int, str, int, str, str, str | None, str | None, str | None, str, str]


def events_after(seq: int, limit: int) -> list[EventRow]:
    """Return up to ``limit`` events with a sequence number above ``seq``, oldest first.

    The rows come from the driver as they are: each column is already the type peewee would
    make of it, and its conversion per field was a fifth of the sync agent's time per event.
    """
    query = (
        Event.select(
            Event.seq,
            Event.id,
            Event.user,
            Event.verb,
            Event.object,
            Event.result,
            Event.context,
            Event.client_ts,
            Event.server_ts,
            Event.boot_id,
        )
        .where(Event.seq > seq)
        .order_by(Event.seq)
        .limit(limit)
    )
    sql, params = query.sql()
    rows: Any = Event._meta.database.execute_sql(sql, params).fetchall()
    return rows


def count_after(seq: int) -> int:
    """Return how many events have a sequence number above ``seq``."""
    return Event.select(fn.COUNT(Event.seq)).where(Event.seq > seq).scalar()
