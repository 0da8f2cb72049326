"""Event numbers are unique per device again: per (device, generation, seq).

A site's ``seq`` numbers its events in its sync stream. When an admin marks a site's Pi
replaced (``kru central device replace``), the new machine's numbers went their own way after
the copy its card was made from, so central held two events under one (device, seq): one of
each machine. ``devices.generation`` is a device's current stream of numbers: a replacement
starts the next one. A batch whose numbers the current stream holds for other events (a
branch of the site's history it left: a drive of a dead SD card imported after a backup was
restored onto a new one) is kept in a stream of its own. Each event keeps the generation it
came in, and (device, generation, seq) is unique, so a report or export by number cannot mix
two machines' events. Reports order a device's events by (generation, seq).

Events already held get their generation here, per device, in the order central received
them: the events received after the device's last replacement (the only one recorded) start
the next stream; an event whose number its stream already holds for another event is kept
aside in the first stream of its own where the number is free.
"""

from datetime import datetime

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            "ALTER TABLE devices ADD COLUMN generation INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE central_events ADD COLUMN generation INTEGER NOT NULL DEFAULT 0",
        ],
    )
    clashing = {
        row[0]
        for row in db.execute_sql(
            "SELECT DISTINCT device_id FROM central_events GROUP BY device_id, seq "
            "HAVING COUNT(*) > 1"
        ).fetchall()
    }
    replaced = {
        row[0]
        for row in db.execute_sql(
            "SELECT id FROM devices WHERE replaced_at IS NOT NULL AND rebase_ack = FALSE"
        ).fetchall()
    }
    for device in sorted(clashing | replaced):
        stamp = db.execute_sql(
            _q(db, "SELECT replaced_at FROM devices WHERE id = ?"), (device,)
        ).fetchone()[0]
        replaced_ms = _ms(stamp) if stamp else None
        live = 0
        used: dict[int, set[int]] = {0: set()}
        sides: list[int] = []
        spans: list[list[int]] = []  # [generation, first id, last id], in id order
        rows = db.execute_sql(
            _q(
                db,
                "SELECT id, seq, received_ms FROM central_events WHERE device_id = ? ORDER BY id",
            ),
            (device,),
        ).fetchall()
        for pk, seq, received_ms in rows:
            if replaced_ms is not None and received_ms >= replaced_ms:
                replaced_ms = None
                live = max(used) + 1
                used[live] = set()
            generation = live
            if seq in used[live]:  # kept aside, as ingest keeps a clashing batch
                free = [g for g in sides if seq not in used[g]]
                generation = free[0] if free else max(used) + 1
                if not free:
                    sides.append(generation)
                    used[generation] = set()
            used[generation].add(seq)
            if generation and spans and spans[-1][0] == generation:
                spans[-1][2] = pk
            elif generation:
                spans.append([generation, pk, pk])
        for generation_of, first, last in spans:
            db.execute_sql(
                _q(
                    db,
                    "UPDATE central_events SET generation = ? "
                    "WHERE device_id = ? AND id BETWEEN ? AND ?",
                ),
                (generation_of, device, first, last),
            )
        db.execute_sql(_q(db, "UPDATE devices SET generation = ? WHERE id = ?"), (live, device))
    # A replacement whose new machine has not sent yet (its first batch clears rebase_ack):
    # its events start the next stream.
    db.execute_sql("UPDATE devices SET generation = generation + 1 WHERE rebase_ack = TRUE")
    execute_all(
        db,
        [
            "DROP INDEX central_events_device_seq",
            "CREATE UNIQUE INDEX central_events_device_generation_seq "
            "ON central_events (device_id, generation, seq)",
        ],
    )


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp() * 1000)


def _q(db: Database, sql: str) -> str:
    """Return ``sql`` with the driver's placeholder for each ``?`` (constant text only)."""
    return sql.replace("?", db.param)
