"""A small catalog for the learning tests: one pack, one course, every item type.

The pack is written as an author writes one (pack.toml, an HTML lesson, a quiz file,
media), built by the real build code and installed by the real installer (the
``make_catalog`` fixture in conftest.py, which builds each zip once per test module), so a
change to the installer or the catalog schema shows in the learning tests too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from content_packs.build import build_pack
from content_packs.install import install_pack
from content_packs.models import Course
from tests.packs_factory import PDF_MIN, VTT_KM, video_bytes

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


def write_catalog_source(
    folder: Path,
    pack: str = PACK,
    open_course: bool = False,
    course: dict[str, Any] | None = None,
    items: dict[str, dict[str, Any] | None] | None = None,
    files: dict[str, str] | None = None,
    version: str = "1.0.0",
) -> Path:
    """Write the catalog's pack source folder (pack.toml, lesson, quiz, media); return it.

    The other shapes are written as an author would write them in the folder:
    ``course`` adds keys to the course table of pack.toml (``certificate``,
    ``completion``, ``discussion``); ``items`` changes the pack.toml entry of an item by
    slug (``{"welcome": {"required": False}}``) or leaves it out (``{"welcome": None}``);
    ``files`` replaces a source file (``{"lessons/welcome.html": "<h1>..."}``).
    """

    def write(rel: str, data: bytes | str) -> None:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)

    quiz = dict(QUIZ_DATA["quiz"])
    write("lessons/welcome.html", "<h2>Hello</h2><p>Read me.</p><script>alert(1)</script>")
    write("quizzes/check.toml", tomli_w.dumps(quiz))
    write("media/clip.mp4", video_bytes())
    write("media/clip.vtt", VTT_KM)
    write("media/h.pdf", PDF_MIN)
    write("apps/game/index.html", "<h1>សួស្តី</h1>")
    for rel, text in (files or {}).items():
        write(rel, text)
    common = {"duration_s": 120}
    m1 = [
        {
            "file": "lessons/welcome.html",
            "slug": "welcome",
            "title_km": "សូមស្វាគមន៍",
            "title_en": "Welcome",
            **common,
        },
        {
            "file": "media/clip.mp4",
            "slug": "clip",
            "title_km": "វីដេអូ",
            "title_en": "Clip",
            "captions": [{"lang": "km", "label": "ខ្មែរ", "file": "media/clip.vtt"}],
            **common,
        },
        {
            "file": "media/h.pdf",
            "slug": "handout",
            "title_km": "ឯកសារ",
            "title_en": "Handout",
            "required": False,
            **common,
        },
    ]
    m2 = [
        {
            "file": "quizzes/check.toml",
            "slug": "check",
            "title_km": "សំណួរ",
            "title_en": "Check",
            **common,
        },
        {
            "file": "apps/game",
            "type": "html5",
            "slug": "game",
            "title_km": "ល្បែង",
            "title_en": "Game",
            "entry": "index.html",
            "required": False,
            **common,
        },
    ]
    changes = items or {}
    m1, m2 = (
        [
            {**entry, **(changes.get(entry["slug"]) or {})}
            for entry in entries
            if changes.get(entry["slug"], {}) is not None
        ]
        for entries in (m1, m2)
    )
    spec = {
        "id": pack,
        "version": version,
        "title_km": "វគ្គ",
        "title_en": "Pack",
        "language": "km",
        "license": "CC-BY-4.0",
        "authors": ["Kru tests"],
        "courses": [
            {
                "slug": "basics",
                "title_km": "មូលដ្ឋាន",
                "title_en": "Basics",
                "open": open_course,
                **(course or {}),
                "modules": [
                    {"slug": "m1", "title_km": "ផ្នែក ១", "title_en": "Part 1", "items": m1},
                    {"slug": "m2", "title_km": "ផ្នែក ២", "title_en": "Part 2", "items": m2},
                ],
            }
        ],
    }
    write("pack.toml", tomli_w.dumps(spec))
    return folder


def build_catalog_pack(folder: Path, **shape: Any) -> Path:
    """Build the catalog's pack zip in ``folder`` with the real build code; return its path.

    ``shape``: the keywords of ``write_catalog_source``.
    """
    src = write_catalog_source(folder / "src", **shape)
    out = folder / f"{shape.get('pack', PACK)}.zip"
    build_pack(src, out)
    return out


def install_catalog(zip_path: Path, settings: Any, home: Any) -> Course:
    """Install a catalog zip with the installer an upload uses; return its course."""
    manifest = install_pack(zip_path, settings, home, installed_by="tests")
    return Course.get(Course.key == f"{manifest.pack_id}/basics")


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
