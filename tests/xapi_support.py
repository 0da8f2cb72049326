"""A central batch holding every kind of event once, for the xAPI and LRS tests."""

from __future__ import annotations

import time
import uuid

from sync import protocol
from sync.protocol import Batch, CohortRecord, EventRecord, ItemRecord, UserRecord

LEARNER = uuid.uuid4().hex

ITEMS = [
    ItemRecord("p/lesson", "lesson", "មេរៀនទី១", "Lesson 1", "p/c", "វគ្គ", "Course", 4),
    ItemRecord("p/quiz", "quiz", "សំណួរ", "Quiz", "p/c", "វគ្គ", "Course", 4),
    ItemRecord("p/video", "video", "វីដេអូ", "Video", "p/c", "វគ្គ", "Course", 4),
    ItemRecord("p/app", "html5", "កម្មវិធី", "App", "p/c", "វគ្គ", "Course", 4),
]
OBSERVED = {
    "score": 0.75,
    "points": 3,
    "max_points": 4,
    "extensions": {
        protocol.CRITERIA_EXTENSION: [
            {"criterion": "engages", "competency": "CTPS.2.2", "level": 3, "max": 4},
        ]
    },
}
SKEW_MS = 3_600_000  # the Pi's clock is an hour behind


def every_kind(device_id: str) -> tuple[Batch, dict[str, str]]:
    """Return a batch holding every kind in ``xapi.VERBS`` once, and event id -> kind."""
    now = int(time.time() * 1000)
    decision = protocol.decision_id
    plan = [
        # (kind, id, verb, item, result, context)
        ("viewed", None, "viewed", "p/lesson", {"duration_s": 75.5}, None),
        ("progressed", None, "progressed", "p/video", {"completion": 0.4, "position_s": 30}, None),
        ("answered", None, "answered", "p/app", {"response": {"q1": "b"}}, None),
        (
            "attempted",
            None,
            "attempted",
            "p/quiz",
            {"score": 0.8, "success": True, "response": {"q1": ["a"]}, "duration_s": 3725},
            {"graded": {"q1": True}, "attempt": 1, "grader": "server"},
        ),
        ("reported-passed", None, "passed", "p/quiz", {"score": 0.8}, {"attempt_id": "x"}),
        ("reported-failed", None, "failed", "p/app", {"score": 0.2}, None),
        ("reported-completed", None, "completed", "p/lesson", {"completion": 1}, None),
        ("completed", decision(LEARNER, "p/lesson", "completed"), "completed", "p/lesson"),
        ("passed", decision(LEARNER, "p/quiz", "passed"), "passed", "p/quiz"),
        ("failed", decision(LEARNER, "p/app", "failed"), "failed", "p/app"),
        ("attended", None, "attended", "p/lesson", None, None),
        ("certified", None, "certified", "p/c", None, None),
        ("submitted", None, "submitted", "p/app", None, None),
        ("reviewed", None, "reviewed", "p/app", {"score": 0.75, "success": True}, None),
        ("posted", None, "posted", "p/app", None, None),
        ("observed", None, "observed", "p/app", OBSERVED, {"observer": "m1", "school": "S"}),
        ("reflected", None, "reflected", "p/app", None, {"observation": "x", "text": "ok"}),
        (
            "assessed",
            None,
            "assessed",
            "urn:kru:competency:CTPS.2.1",
            {"level": 2, "score": 0.7, "evidence": 3},
            {"decided_by": "site", "title": {"km": "ផែនការ", "en": "Plans lessons"}},
        ),
    ]
    events, kinds = [], {}
    for seq, (kind, event_id, verb, item, *rest) in enumerate(plan, start=1):
        result, context = rest if rest else ({"score": 0.9}, {"decided_by": "site"})
        eid = event_id or str(uuid.uuid4())
        kinds[eid] = kind
        events.append(
            EventRecord(seq, eid, LEARNER, verb, item, result, context, None, now - SKEW_MS, "b")
        )
    batch = Batch(
        batch_id=protocol.batch_id_for(device_id, 0, len(events)),
        device_id=device_id,
        after=0,
        last=len(events),
        clock_ms=now - SKEW_MS,
        users=[UserRecord(LEARNER, "sokha", "សុខា ចាន់", "learner")],
        cohorts=[CohortRecord("c1", "ថ្នាក់ ២០២៦ ក", [LEARNER])],
        items=ITEMS,
        events=events,
    )
    return batch, kinds
