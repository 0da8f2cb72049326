"""Read the next batch of events after the cursor from the site database."""

from __future__ import annotations

import json
import logging
from typing import Any

from peewee import Database

from . import protocol
from .protocol import Batch, CohortRecord, EventRecord, ItemRecord, UserRecord

log = logging.getLogger(__name__)


def _json(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # kept as text rather than lost


def read_batch(
    db: Database,
    *,
    device_id: str,
    after: int,
    limit: int,
    clock_ms: int,
    site: dict[str, Any] | None = None,
    modem: dict[str, Any] | None = None,
) -> Batch | None:
    """Return the batch of up to ``limit`` events after seq ``after``, or None when none wait.

    The batch also carries the accounts (never password hashes), the cohorts of those accounts
    and the items the events refer to.
    """
    rows = db.execute_sql(
        "SELECT e.seq, e.id, u.uid, e.user_id, e.verb, e.object, e.result, e.context, "
        "e.client_ts, e.server_ts, e.boot_id FROM events e JOIN users u ON u.id = e.user_id "
        "WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
        (after, limit),
    ).fetchall()
    if not rows:
        return None
    events: list[EventRecord] = []
    user_ids: dict[int, str] = {}
    objects: dict[str, None] = {}
    for seq, eid, uid, user_id, verb, obj, result, context, client_ts, server_ts, boot in rows:
        server_ms = protocol.ts_to_ms(server_ts)
        if server_ms is None:
            log.warning("event %s has an unreadable server time %r", eid, server_ts)
            server_ms = 0
        events.append(
            EventRecord(
                seq, eid, uid, verb, obj, _json(result), _json(context), client_ts, server_ms, boot
            )
        )
        user_ids[user_id] = uid
        objects[obj] = None
    ids_json = json.dumps(list(user_ids))
    users = [
        UserRecord(*row)
        for row in db.execute_sql(
            "SELECT uid, username, display_name, role FROM users "
            "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (ids_json,),
        )
    ]
    cohorts: dict[int, CohortRecord] = {}
    for cohort_id, cuid, name in db.execute_sql(
        "SELECT id, uid, name FROM cohorts WHERE id IN (SELECT cohort_id FROM cohort_members "
        "WHERE user_id IN (SELECT value FROM json_each(?))) ORDER BY id",
        (ids_json,),
    ):
        cohorts[cohort_id] = CohortRecord(cuid, name, [])
    if cohorts:
        for cohort_id, member_uid in db.execute_sql(
            "SELECT m.cohort_id, u.uid FROM cohort_members m JOIN users u ON u.id = m.user_id "
            "WHERE m.cohort_id IN (SELECT value FROM json_each(?)) ORDER BY m.id",
            (json.dumps(list(cohorts)),),
        ):
            cohorts[cohort_id].members.append(member_uid)
    # What counts towards a course is the site's rule (docs/progress-rules.md): its required
    # items, or all its items when none is required. Central divides by this count.
    known = {
        row[0]: ItemRecord(*row[:7], row[7] or row[8], bool(row[9] or not row[7]))  # type: ignore[call-arg]
        for row in db.execute_sql(
            "SELECT i.key, i.type, i.title_km, i.title_en, c.key, c.title_km, c.title_en, "
            "(SELECT COUNT(*) FROM items r WHERE r.course_id = c.id AND r.required), "
            "(SELECT COUNT(*) FROM items r WHERE r.course_id = c.id), i.required "
            "FROM items i JOIN courses c ON c.id = i.course_id "
            "WHERE i.key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(objects)),),
        )
    }
    items = [known.get(key) or ItemRecord(key, counts=False) for key in objects]
    last = events[-1].seq
    return Batch(
        batch_id=protocol.batch_id_for(device_id, after, last),
        device_id=device_id,
        after=after,
        last=last,
        clock_ms=clock_ms,
        site=site or {},
        modem=modem,
        users=users,
        cohorts=list(cohorts.values()),
        items=items,
        events=events,
    )
