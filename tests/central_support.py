"""Helpers of the central server's tests: batches as a site signs them, a signed-in client."""

from __future__ import annotations

import time
import uuid

from sync import protocol
from sync.central import registry
from sync.protocol import Batch, EventRecord, ItemRecord, UserRecord
from tests.conftest import csrf_token

# The central server's public URL in tests (xAPI ids and activity ids are made from it).
PUBLIC = "https://kru.example.gov.kh"


def make_batch(device_id: str, after: int = 0, count: int = 3, clock_ms: int | None = None):
    """Return a batch of ``count`` events of learner u1 on item p/i1 (one of two in course p/c).

    The first event of a batch starting at seq 0 is the site's decision that u1 completed
    p/i1; the others are the phone's own events.
    """
    now = int(time.time() * 1000)
    events = [
        EventRecord(
            after + i + 1,
            str(uuid.uuid4()),
            "u1",
            "completed",
            "p/i1",
            {"score": 1},
            None,
            None,
            now + i,
            "boot",
        )
        for i in range(count)
    ]
    if after == 0 and events:
        events[0].id = protocol.decision_id("u1", "p/i1", "completed")
    last = after + count
    return Batch(
        batch_id=protocol.batch_id_for(device_id, after, last),
        device_id=device_id,
        after=after,
        last=last,
        clock_ms=clock_ms if clock_ms is not None else now,
        users=[UserRecord("u1", "learner1", "សិស្ស", "learner")],
        items=[ItemRecord("p/i1", "lesson", "មេរៀន", "Lesson", "p/c", "វគ្គ", "Course", 2)],
        events=events,
    )


def post(
    client,
    device,
    batch=None,
    body=None,
    secret=None,
    clock_ms=None,
    version=protocol.PROTOCOL_VERSION,
    machine=protocol.NO_MACHINE,
):
    if batch is not None:
        batch.version = version
    body = body if body is not None else protocol.encode_batch(batch)
    batch_id = batch.batch_id if batch is not None else "b1"
    clock = clock_ms if clock_ms is not None else (batch.clock_ms if batch else 0)
    headers = protocol.signed_headers(
        secret or device.secret,
        "POST",
        protocol.BATCHES_PATH,
        device.device_id,
        batch_id,
        body,
        clock,
        version,
        machine,
    )
    return client.post(protocol.BATCHES_PATH, data=body, headers=headers)


def sign_in(client, role: str = "admin") -> None:
    username = f"{role}1"
    registry.add_user(username, "mekong-river-2026", role)
    response = client.post(
        "/api/v1/session",
        json={"username": username, "password": "mekong-river-2026"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200
