"""A course that awards a certificate, for the certificate tests (issue 16)."""

from __future__ import annotations

from collections.abc import Callable

from tests.learning_catalog import COURSE, LESSON, QUIZ, RIGHT, VIDEO, ev

TITLE_KM = "វិញ្ញាបនបត្រ៖ ការបង្រៀនអានជាក្រុម"
TITLE_EN = "CPD certificate: teaching reading in groups"
LEARNER_KM = "សុខ ចាន់ធីតា"


def make_certificate_course(
    make_catalog: Callable,
    *,
    hours: float = 6,
    attendance: float | None = None,
    open_course: bool = True,
) -> str:
    """Install the learning catalog with a course that awards ``hours`` CPD hours.

    ``make_catalog`` is the conftest fixture; the certificate (and the attendance share of
    the completion rule) are written in pack.toml and installed. Returns the course key.
    """
    course: dict = {"certificate": {"hours": hours, "title_km": TITLE_KM, "title_en": TITLE_EN}}
    if attendance is not None:
        course["completion"] = {"attendance": attendance}
    make_catalog(open_course=open_course, course=course)
    return COURSE


def finishing_events() -> list[dict]:
    """Events that complete every required item of the course."""
    return [
        ev("completed", LESSON),
        ev("completed", VIDEO),
        ev("attempted", QUIZ, {"response": RIGHT}),
    ]
