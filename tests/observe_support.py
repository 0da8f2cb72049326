"""Helpers for the observation tests: the sample practicum pack and a filled-in form."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from content_packs.build import build_pack
from content_packs.install import install_pack

PRACTICUM = Path(__file__).resolve().parents[1] / "content_packs" / "examples" / "practicum"
FORM = "practicum/reading-lesson-observation"
CRITERIA = (
    "knows-content",
    "plans-lesson",
    "engages-pupils",
    "checks-learning",
    "reflects",
    "respects-pupils",
)
# knows-content 3/4 (domain 1), practice 4+2+4 = 10/12 (domain 2), learning 1/4, ethics 4/4
LEVELS = {
    "knows-content": "proficient",
    "plans-lesson": "accomplished",
    "engages-pupils": "developing",
    "checks-learning": "accomplished",
    "reflects": "beginning",
    "respects-pupils": "accomplished",
}


def install_practicum(settings: Any, home: Any, tmp_path: Path) -> None:
    zip_path = tmp_path / "practicum.zip"
    build_pack(PRACTICUM, zip_path)
    install_pack(zip_path, settings, home)


def filled(learner_id: int, **overrides: Any) -> dict[str, Any]:
    """Return a filled-in observation form as the phone sends it."""
    body = {
        "id": str(uuid.uuid4()),
        "learner": learner_id,
        "form": FORM,
        "rubric": dict(LEVELS),
        "notes": {"engages-pupils": "ពួកសិស្សនៅខាងក្រោយមិនបានអានទេ។"},
        "comment": "មេរៀនល្អ។ Good pacing.",
        "school": "សាលាបឋមសិក្សាតាខ្មៅ",
        "class": "ថ្នាក់ទី២ ខ",
        "date": "2026-11-30",
    }
    body.update(overrides)
    return body
