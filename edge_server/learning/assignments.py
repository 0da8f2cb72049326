"""Courses assigned to cohorts, with an optional due date shown to learners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from content_packs.models import Course, title

from ..accounts.models import Cohort, User
from ..base.db import utcnow
from ..base.errors import N_, NotFound, ValidationError
from .models import Assignment


class InvalidDueDate(ValidationError):
    code = "invalid_due_date"


@dataclass
class AssignedCourse:
    key: str
    title: str
    due_date: str | None
    installed: bool


def check_due_date(value: str | None) -> str | None:
    """Return the due date as YYYY-MM-DD, or None when empty.

    Raises:
        InvalidDueDate: it is not a date.
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise InvalidDueDate(
            N_("The due date %(value)s is not a date like 2026-03-31"), value=value
        ) from exc


def assign(cohort: Cohort, course_key: str, due_date: str | None, by: User | None) -> Assignment:
    """Assign a course to ``cohort`` (or change its due date) and return the assignment.

    Raises:
        NotFound: no course has that key.
        InvalidDueDate: the due date is not a date.
    """
    due = check_due_date(due_date)
    if not Course.select().where(Course.key == course_key).exists():
        raise NotFound(
            N_("There is no course %(course)s"), code="course_not_found", course=course_key
        )
    existing = Assignment.get_or_none(
        (Assignment.cohort == cohort) & (Assignment.course == course_key)
    )
    if existing is not None:
        existing.due_date = due
        existing.save()
        return existing
    return Assignment.create(
        cohort=cohort, course=course_key, due_date=due, assigned_by=by, assigned_at=utcnow()
    )


def unassign(cohort: Cohort, course_key: str) -> bool:
    """Remove a course from ``cohort``; return whether it was assigned. Progress is kept."""
    deleted = (
        Assignment.delete()
        .where((Assignment.cohort == cohort) & (Assignment.course == course_key))
        .execute()
    )
    return bool(deleted)


def assigned(cohort: Cohort, lang: str) -> list[AssignedCourse]:
    """Return the courses assigned to ``cohort``, in catalog order (removed ones last)."""
    rows = list(Assignment.select().where(Assignment.cohort == cohort))
    courses = {c.key: c for c in Course.select().where(Course.key.in_([r.course for r in rows]))}
    out = [
        AssignedCourse(
            r.course,
            title(courses[r.course], lang) if r.course in courses else r.course,
            r.due_date,
            r.course in courses,
        )
        for r in rows
    ]
    order = {c.key: (c.position, c.id) for c in courses.values()}
    return sorted(out, key=lambda a: order.get(a.key, (1 << 30, 0)))


def all_courses(lang: str) -> list[tuple[str, str]]:
    """Return (key, title) of every installed course, for the assign form."""
    return [(c.key, title(c, lang)) for c in Course.select().order_by(Course.position, Course.id)]
