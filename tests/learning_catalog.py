"""A small catalog for the learning tests: one pack, one course, every item type.

Rows are made directly with the catalog models (the pack installer is tested by the
content-pack tests); the shapes of ``items.data`` follow docs/content-packs.md.
"""

from __future__ import annotations

import json
from typing import Any

from content_packs.models import Course, Item, Module, Pack

PACK = "teach101"
COURSE = f"{PACK}/basics"
LESSON = f"{PACK}/welcome"
VIDEO = f"{PACK}/clip"
PDF = f"{PACK}/handout"
QUIZ = f"{PACK}/check"
APP = f"{PACK}/game"

QUIZ_DATA: dict[str, Any] = {
    "quiz": {
        "pass_mark": 0.6,
        "attempts": 2,
        "questions": [
            {
                "id": "q1",
                "type": "single",
                "prompt_km": "តើ ២ + ២ ស្មើប៉ុន្មាន?",
                "prompt_en": "What is 2 + 2?",
                "choices": [
                    {"id": "a", "text_km": "៣", "text_en": "3"},
                    {"id": "b", "text_km": "៤", "text_en": "4"},
                ],
                "answer": "b",
                "feedback_correct_en": "Well done.",
                "feedback_wrong_en": "Count again: two and two.",
            },
            {
                "id": "q2",
                "type": "multiple",
                "prompt_en": "Which are even?",
                "choices": [
                    {"id": "x", "text_en": "2"},
                    {"id": "y", "text_en": "3"},
                    {"id": "z", "text_en": "4"},
                ],
                "answer": ["x", "z"],
            },
            {"id": "q3", "type": "true_false", "prompt_en": "The sun is a star.", "answer": True},
            {
                "id": "q4",
                "type": "numeric",
                "prompt_en": "Half of 5?",
                "answer": 2.5,
                "tolerance": 0.01,
            },
            {
                "id": "q5",
                "type": "short_text",
                "prompt_en": "Capital of Cambodia?",
                "accept": ["Phnom Penh", "ភ្នំពេញ"],
            },
        ],
    }
}

RIGHT = {"q1": "b", "q2": ["x", "z"], "q3": True, "q4": 2.5, "q5": "phnom  penh"}
WRONG = {"q1": "a", "q2": ["y"], "q3": False, "q4": 3, "q5": "Siem Reap"}


def _file(name: str, mime: str) -> dict[str, Any]:
    sha = (name.encode().hex() * 64)[:64]
    return {"path": f"files/{name}", "sha256": sha, "size": 100, "mime": mime}


def make_catalog(open_course: bool = False, pack: str = PACK) -> Course:
    """Create a pack with one course of two modules holding every item type."""
    p = Pack.create(
        pack_id=pack,
        version="1.0.0",
        title_km="វគ្គ",
        title_en="Pack",
        manifest_sha256="0" * 64,
        manifest="{}",
        installed_at="2026-01-01T00:00:00+00:00",
    )
    course = Course.create(
        key=f"{pack}/basics",
        pack=p,
        slug="basics",
        title_km="មូលដ្ឋាន",
        title_en="Basics",
        open=open_course,
    )
    m1 = Module.create(
        key=f"{pack}/m1", course=course, slug="m1", title_km="ផ្នែក ១", title_en="Part 1", position=1
    )
    m2 = Module.create(
        key=f"{pack}/m2", course=course, slug="m2", title_km="ផ្នែក ២", title_en="Part 2", position=2
    )
    items = [
        (
            m1,
            "welcome",
            "lesson",
            "សូមស្វាគមន៍",
            "Welcome",
            {"format": "html"},
            "<h2>Hello</h2><p>Read me.</p><script>alert(1)</script>",
            True,
        ),
        (
            m1,
            "clip",
            "video",
            "វីដេអូ",
            "Clip",
            {
                "file": _file("clip.mp4", "video/mp4"),
                "captions": [
                    {"lang": "km", "label": "ខ្មែរ", "file": _file("clip.vtt", "text/vtt")}
                ],
            },
            "",
            True,
        ),
        (
            m1,
            "handout",
            "pdf",
            "ឯកសារ",
            "Handout",
            {"file": _file("h.pdf", "application/pdf")},
            "",
            False,
        ),
        (m2, "check", "quiz", "សំណួរ", "Check", QUIZ_DATA, "", True),
        (
            m2,
            "game",
            "html5",
            "ល្បែង",
            "Game",
            {"file": _file("game.zip", "application/zip"), "entry": "index.html"},
            "",
            False,
        ),
    ]
    for pos, (module, slug, kind, km, en, data, body, required) in enumerate(items):
        Item.create(
            key=f"{pack}/{slug}",
            module=module,
            course=course,
            slug=slug,
            type=kind,
            title_km=km,
            title_en=en,
            position=pos,
            duration_s=120,
            required=required,
            body=body,
            data=json.dumps(data, ensure_ascii=False),
        )
    return course


def ev(verb: str, obj: str, result: dict | None = None, **fields: Any) -> dict[str, Any]:
    """Return an event as a phone sends it, with a fresh UUID."""
    import uuid

    event: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "verb": verb,
        "object": obj,
        "timestamp": "2026-03-02T08:15:00+07:00",
    }
    if result is not None:
        event["result"] = result
    event.update(fields)
    return event


def post_events(client, events: list[dict], **kwargs: Any):
    """POST a batch to /api/v1/events with the CSRF header."""
    from tests.conftest import api_headers

    return client.post("/api/v1/events", json={"events": events}, headers=api_headers(client))
