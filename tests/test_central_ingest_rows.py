"""Every field of every event arrives as the site sent it, on SQLite and on PostgreSQL.

PostgreSQL takes a batch as one array per column (``ingest._UNNEST_INSERT``); this holds that
text with quotes, backslashes, braces, commas, new lines and Khmer, missing values, ids that
are not UUIDs, events of a clock epoch never heard online and batches larger than one insert
arrive unchanged, and that a batch sent again stores nothing twice.
"""

from __future__ import annotations

import json

import pytest

from sync.central import ingest, registry
from sync.central.db import database
from sync.central.models import CentralEvent
from sync.protocol import Batch, EventRecord, ItemRecord, UserRecord, batch_id_for

AWKWARD = ['it\'s "quoted"', "back\\slash", "{braces},[brackets]", "line\nbreak\ttab", "ខ្មែរ"]
COUNT = ingest.INSERT_CHUNK * 2 + 37  # three inserts on PostgreSQL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def central(request):
    settings = {}
    if request.param == "postgres":  # asked first: the app's fixture clears KRU_* variables
        settings["central.database_url"] = request.getfixturevalue("pg_url")
    return request.getfixturevalue("make_central_app")(**settings)


def _events(now: int) -> list[EventRecord]:
    events = []
    for n in range(COUNT):
        word = AWKWARD[n % len(AWKWARD)]
        events.append(
            EventRecord(
                n + 1,
                f"{n:08x}-0000-4000-8000-000000000000" if n % 3 else f"site-made id {n} {word}",
                f"u{n % 7}",
                "answered" if n % 2 else "completed",
                f"p/item-{n % 11}",
                {"response": word, "score": n / 10} if n % 4 else None,
                {"note": word} if n % 5 == 0 else None,
                None if n % 6 else f"2026-12-0{1 + n % 3}T08:00:00+07:00",
                1_780_000_000_000 + n,
                "boot-now" if n % 9 else "boot-never-online",
            )
        )
    return events


def test_every_field_arrives_unchanged_and_once(central):
    device = registry.add_device("TEC Kandal", "http://central.example", "Kandal").device
    now = 1_780_000_100_000
    events = _events(now)
    batch = Batch(
        batch_id=batch_id_for(device.device_id, 0, COUNT),
        device_id=device.device_id,
        after=0,
        last=COUNT,
        clock_ms=now - 5_000,  # the Pi's clock is 5 s behind
        boot="boot-now",
        users=[UserRecord(f"u{n}", f"learner{n}", "សិស្ស", "learner") for n in range(7)],
        items=[ItemRecord(f"p/item-{n}", "lesson", "មេរៀន", "Lesson") for n in range(11)],
        events=events,
    )
    answer = ingest.ingest_batch(database, device, batch, received_ms=now)
    assert (answer["stored"], answer["duplicates"]) == (COUNT, 0)

    rows = {
        row.event_id: row for row in CentralEvent.select().where(CentralEvent.device == device.id)
    }
    assert len(rows) == COUNT
    for ev in events:
        row = rows[ev.id]
        unknown = ev.boot_id == "boot-never-online"
        assert (row.seq, row.user_uid, row.verb, row.object) == (
            ev.seq,
            ev.user_uid,
            ev.verb,
            ev.object,
        )
        assert (json.loads(row.result) if row.result else None) == ev.result
        assert (json.loads(row.context) if row.context else None) == ev.context
        assert (row.client_ts, row.server_ms, row.boot_id) == (
            ev.client_ts,
            ev.server_ms,
            ev.boot_id,
        )
        assert row.corrected_ms == ev.server_ms + (0 if unknown else 5_000)
        assert bool(row.clock_unknown) is unknown
        assert row.received_ms == now

    again = Batch(**{**batch.__dict__, "batch_id": "the same events, another batch"})
    answer = ingest.ingest_batch(database, device, again, received_ms=now + 1)
    assert (answer["stored"], answer["duplicates"]) == (0, COUNT)
    assert CentralEvent.select().where(CentralEvent.device == device.id).count() == COUNT
