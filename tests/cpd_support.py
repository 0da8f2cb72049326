"""A course that awards a certificate, for the certificate tests (issue 16)."""

from __future__ import annotations

import json

from content_packs.models import Pack
from tests.learning_catalog import COURSE, LESSON, QUIZ, RIGHT, VIDEO, ev, make_catalog

TITLE_KM = "វិញ្ញាបនបត្រ៖ ការបង្រៀនអានជាក្រុម"
TITLE_EN = "CPD certificate: teaching reading in groups"
LEARNER_KM = "សុខ ចាន់ធីតា"


def make_certificate_course(
    *, hours: float = 6, attendance: float | None = None, open_course: bool = True
) -> str:
    """Make the learning catalog's course award ``hours`` CPD hours; return its key."""
    make_catalog(open_course=open_course)
    course: dict = {
        "slug": "basics",
        "certificate": {"hours": hours, "title": {"km": TITLE_KM, "en": TITLE_EN}},
    }
    if attendance is not None:
        course["completion"] = {"attendance": attendance}
    Pack.update(manifest=json.dumps({"courses": [course]}, ensure_ascii=False)).execute()
    return COURSE


def finishing_events() -> list[dict]:
    """Events that complete every required item of the course."""
    return [
        ev("completed", LESSON),
        ev("completed", VIDEO),
        ev("attempted", QUIZ, {"response": RIGHT}),
    ]
