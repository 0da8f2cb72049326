"""Read the next batch of events after the cursor from the site database."""

from __future__ import annotations

import json
import logging
from typing import Any

from peewee import Database

from content_packs import catalog
from edge_server.accounts import people
from edge_server.learning import event_log

from .. import protocol
from ..protocol import Batch, CohortRecord, EventRecord, ItemRecord, UserRecord

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
    and the items the events refer to, read through the owners' APIs (``db`` holds them all:
    the site database).
    """
    rows = event_log.events_after(after, limit)
    if not rows:
        return None
    accounts = people.people({row[2] for row in rows})
    events: list[EventRecord] = []
    objects: dict[str, None] = {}
    for seq, eid, user_id, verb, obj, result, context, client_ts, server_ts, boot in rows:
        server_ms = protocol.ts_to_ms(server_ts)
        if server_ms is None:
            log.warning("event %s has an unreadable server time %r", eid, server_ts)
            server_ms = 0
        uid = accounts[user_id][0]
        events.append(
            EventRecord(
                seq, eid, uid, verb, obj, _json(result), _json(context), client_ts, server_ms, boot
            )
        )
        objects[obj] = None
    users = [UserRecord(*person) for person in accounts.values()]
    cohorts = [CohortRecord(*cohort) for cohort in people.cohorts_of(accounts)]
    known = catalog.item_records(objects)
    items = [
        ItemRecord(*known[key]) if key in known else ItemRecord(key, counts=False)
        for key in objects
    ]
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
        cohorts=cohorts,
        items=items,
        events=events,
    )
