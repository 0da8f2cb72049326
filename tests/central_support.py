"""Helpers of the central server's tests: batches as a site signs them, a signed-in client."""

from __future__ import annotations

import time
import uuid

from sync import protocol
from sync.central import registry
from sync.protocol import Batch, CohortRecord, EventRecord, ItemRecord, UserRecord
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


# --- a learner's term as a site sends it (issue 21's drill-down tests) ---------------------
TERM_ITEMS = [
    ItemRecord(
        "p/lesson",
        "lesson",
        "មេរៀនអាន",
        "Reading lesson",
        "p/c",
        "ការបង្រៀនអាន",
        "Teaching reading",
        2,
    ),
    ItemRecord("p/quiz", "quiz", "សំណួរ", "Quiz", "p/c", "ការបង្រៀនអាន", "Teaching reading", 2),
    ItemRecord(
        "p/task", "task", "កិច្ចការ", "Task", "p/c", "ការបង្រៀនអាន", "Teaching reading", 2, False
    ),
    ItemRecord("urn:kru:session:s1", counts=False),
    ItemRecord("urn:kru:session:s2", counts=False),
    ItemRecord("urn:kru:session:s9", counts=False),
    ItemRecord("urn:kru:competency:CTPS.1.1", counts=False),
]
SITE_DECIDED = {"decided_by": "site"}


def term_event(uid: str, verb: str, obj: str, result=None, context=None) -> EventRecord:
    """Return one event (seq set by ``term_batch``); a site's decision gets its decision id."""
    decided = verb in protocol.DECISION_VERBS and (context or {}).get("decided_by") == "site"
    eid = protocol.decision_id(uid, obj, verb) if decided else str(uuid.uuid4())
    return EventRecord(
        0, eid, uid, verb, obj, result, context, None, int(time.time() * 1000), "boot"
    )


def term_batch(device_id: str, events, users, after: int = 0, cohorts=()) -> Batch:
    """Return the batch of ``events`` after seq ``after``, numbered in order."""
    for n, ev in enumerate(events, start=after + 1):
        ev.seq = n
        ev.server_ms += n
    last = after + len(events)
    return Batch(
        batch_id=protocol.batch_id_for(device_id, after, last),
        device_id=device_id,
        after=after,
        last=last,
        clock_ms=int(time.time() * 1000),
        users=list(users),
        cohorts=list(cohorts),
        items=TERM_ITEMS,
        events=list(events),
    )


def learner_term(device_id: str, uid: str = "u1", national_id: str = "NT-1", after: int = 0):
    """Return one learner's term as a batch: time, a quiz failed then passed, a task returned
    then accepted, an observation, competency levels, attendance at two sessions of cohort c1
    (at one only their classmate u2 was marked)."""
    criteria = {
        "extensions": {
            protocol.CRITERIA_EXTENSION: [
                {"criterion": "a", "competency": "CTPS.1.1", "level": 3, "max": 4},
                {"criterion": "b", "competency": "CTPS.2.1", "level": 1, "max": 4},
            ]
        }
    }
    s1 = {
        "session": "s1",
        "cohort": "c1",
        "course": "p/c",
        "starts_at": "2026-10-01T01:00:00+00:00",
    }
    s2 = {**s1, "session": "s2", "starts_at": "2026-10-08T01:00:00+00:00"}
    e = term_event
    events = [
        e(uid, "progressed", "p/lesson", {"duration_s": 5400, "completion": 0.5}),
        e(uid, "progressed", "p/lesson", {"duration_s": 75.4}),
        e(uid, "completed", "p/lesson", None, SITE_DECIDED),
        e(uid, "attempted", "p/quiz", {"score": 0.4, "duration_s": 100}),
        e(uid, "failed", "p/quiz", {"score": 0.4}, SITE_DECIDED),
        e(uid, "passed", "p/quiz", {"score": 0.9}, SITE_DECIDED),
        e(uid, "submitted", "p/task", {"duration_s": 30}),
        e(uid, "reviewed", "p/task", {"decision": "returned"}),
        e(uid, "submitted", "p/task"),
        e(uid, "reviewed", "p/task", {"decision": "accepted", "success": True}),
        e(uid, "observed", "p/task", criteria),
        e(uid, "assessed", "urn:kru:competency:CTPS.1.1", {"level": 1}),
        e(uid, "assessed", "urn:kru:competency:CTPS.1.1", {"level": 2}),
        e(uid, "attended", "urn:kru:session:s1", {"response": "absent"}, s1),
        e(uid, "attended", "urn:kru:session:s1", {"response": "late"}, s1),
        e("u2", "attended", "urn:kru:session:s2", {"response": "present"}, s2),
        e(uid, "progressed", "urn:kru:session:s9", {"duration_s": 999}),  # not an item
    ]
    users = [
        UserRecord(uid, "dara", "សុខ ដារា", "learner", national_id),
        UserRecord("u2", "sophea", "ចាន់ សុភា", "learner", ""),
    ]
    cohorts = [CohortRecord("c1", "ក្រុម ក", [uid, "u2"])]
    return term_batch(device_id, events, users, after, cohorts)
