"""The agent's durable state in the site database: cursor, outcome, bytes per day, quarantine.

Plain SQL on the sync tables of the site database; each change is one short transaction.
Events are counted through the learning part's event log API. The cursor is "highest event
seq the central server acknowledged".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from peewee import Database

from edge_server.base import event_numbers
from edge_server.base.datahome import DataHome
from edge_server.base.db import utcnow
from edge_server.learning import event_log

log = logging.getLogger(__name__)


@dataclass
class SyncState:
    cursor: int
    server_acked: int
    last_success_at: str | None
    last_attempt_at: str | None
    last_error: str | None
    last_error_code: str | None
    failures: int
    server_backlog: int | None
    clock_offset_s: float | None


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def read_state(db: Database) -> SyncState:
    """Return the single state row."""
    row = db.execute_sql(
        "SELECT cursor, server_acked, last_success_at, last_attempt_at, last_error, "
        "last_error_code, failures, server_backlog, clock_offset_s FROM sync_state WHERE id = 1"
    ).fetchone()
    return SyncState(*row)


def pending_events(db: Database, cursor: int | None = None) -> int:
    """Return how many events wait after the cursor."""
    if cursor is None:
        cursor = read_state(db).cursor
    return event_log.count_after(cursor)


def add_bytes(db: Database, sent: int, received: int = 0, day: str | None = None) -> None:
    """Add to today's byte counters (one row per day, updated in place)."""
    db.execute_sql(
        "INSERT INTO sync_bytes (day, bytes_sent, bytes_received) VALUES (?, ?, ?) "
        "ON CONFLICT (day) DO UPDATE SET bytes_sent = bytes_sent + excluded.bytes_sent, "
        "bytes_received = bytes_received + excluded.bytes_received",
        (day or today(), sent, received),
    )


def bytes_today(db: Database, day: str | None = None) -> int:
    row = db.execute_sql(
        "SELECT bytes_sent FROM sync_bytes WHERE day = ?", (day or today(),)
    ).fetchone()
    return row[0] if row else 0


def record_attempt(db: Database) -> None:
    db.execute_sql("UPDATE sync_state SET last_attempt_at = ? WHERE id = 1", (utcnow(),))


def record_error(db: Database, code: str, message: str) -> None:
    """Remember the last error (replacing the previous one) and count the failure."""
    db.execute_sql(
        "UPDATE sync_state SET last_error = ?, last_error_code = ?, failures = failures + 1, "
        "last_attempt_at = ? WHERE id = 1",
        (message[:500], code, utcnow()),
    )


def record_ack(
    db: Database,
    cursor: int,
    server_acked: int,
    sent: int,
    received: int,
    server_backlog: int | None = None,
    clock_offset_s: float | None = None,
) -> None:
    """Move the cursor past an acknowledged batch and count bytes, in one transaction."""
    with db.atomic():
        now = utcnow()
        db.execute_sql(
            "UPDATE sync_state SET cursor = MAX(cursor, ?), server_acked = ?, "
            "last_success_at = ?, last_attempt_at = ?, last_error = NULL, last_error_code = NULL, "
            "failures = 0, server_backlog = ?, clock_offset_s = COALESCE(?, clock_offset_s) "
            "WHERE id = 1",
            (cursor, server_acked, now, now, server_backlog, clock_offset_s),
        )
        add_bytes(db, sent, received)


def record_caught_up(db: Database) -> None:
    now = utcnow()
    db.execute_sql(
        "UPDATE sync_state SET last_success_at = ?, last_attempt_at = ?, last_error = NULL, "
        "last_error_code = NULL, failures = 0 WHERE id = 1",
        (now, now),
    )


def quarantine(
    db: Database,
    *,
    batch_id: str,
    after: int,
    last: int,
    events: int,
    code: str,
    message: str,
    file: str,
) -> None:
    """Record a quarantined batch and move the cursor past it, in one transaction."""
    with db.atomic():
        db.execute_sql(
            "INSERT INTO sync_quarantine (batch_id, after_seq, last_seq, events, code, message, "
            "file, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (batch_id, after, last, events, code, message[:500], file, utcnow()),
        )
        db.execute_sql(
            "UPDATE sync_state SET cursor = ?, last_error = ?, last_error_code = ? "
            "WHERE id = 1 AND cursor = ?",
            (last, message[:500], code, after),
        )


def quarantined(db: Database) -> list[dict[str, Any]]:
    cursor = db.execute_sql(
        "SELECT batch_id, after_seq, last_seq, events, code, message, file, created_at "
        "FROM sync_quarantine ORDER BY id"
    )
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def adopt_server_ack(db: Database, acked_seq: int) -> int:
    """Move the cursor up to what central says it holds (never back); return the cursor.

    Central's ``acked_seq`` counts every event of this site it holds contiguously, whichever
    way they came (online or on a USB drive). The cursor never passes this site's own last
    event, nor goes back when an older acknowledgement arrives after a newer one.
    """
    with db.atomic():
        db.execute_sql(
            "UPDATE sync_state SET "
            "cursor = MAX(cursor, MIN(?, (SELECT COALESCE(MAX(seq), 0) FROM events))), "
            "server_acked = MAX(server_acked, MIN(?, (SELECT COALESCE(MAX(seq), 0) FROM events))) "
            "WHERE id = 1",
            (acked_seq, acked_seq),
        )
        return read_state(db).cursor


def settle_restore(db: Database, home: DataHome, acked_seq: int) -> int:
    """Move events numbered since a restore past central's ``acked_seq``; return how many.

    Called with central's acknowledgement before the cursor adopts it. After a restore
    (``edge_server.base.event_numbers``) the events numbered past the restored copy's last
    are unknown to central, whatever it acknowledged: those whose numbers central already
    acknowledged (for events of the replaced database) are renumbered after it, keeping
    their order, so the cursor can follow central without skipping them. New events are
    numbered past it too. The restore's marker is then forgotten: from here central's
    acknowledgements are about this database's events.
    """
    after = event_numbers.pending_restore(home)
    if after is None:
        return 0
    moved = 0
    with db.atomic():
        first = db.execute_sql("SELECT MIN(seq) FROM events WHERE seq > ?", (after,)).fetchone()[0]
        if first is not None and first <= acked_seq:
            shift = acked_seq + 1 - first
            # Two steps, so no number is held twice midway (seq is the primary key).
            moved = db.execute_sql("UPDATE events SET seq = -seq WHERE seq > ?", (after,)).rowcount
            db.execute_sql("UPDATE events SET seq = ? - seq WHERE seq < 0", (shift,))
        db.execute_sql(
            "UPDATE sqlite_sequence SET seq = MAX(seq, ?, (SELECT COALESCE(MAX(seq), 0) "
            "FROM events)) WHERE name = 'events'",
            (acked_seq,),
        )
    event_numbers.settled(home)
    if moved:
        log.warning(
            "%s events recorded since the restore renumbered after #%s, the last event "
            "central acknowledged",
            moved,
            acked_seq,
        )
    return moved
