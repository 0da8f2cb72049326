"""A course's completion rule from its pack (issue 16): every required item done and, when
the pack says so, a share of the face-to-face sessions attended.

This is an input to the site's completion decision (edge_server.learning.progress); it
reads the manifest the site installed and the attendance summary, and decides nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..accounts.models import User
from ..base.db import db
from . import attendance


@dataclass(frozen=True)
class CourseRule:
    attendance: float | None = None
    certificate_hours: float | None = None
    certificate_title: dict[str, str] | None = None
    sessions: tuple[dict[str, Any], ...] = ()


def course_rule(course_key: str) -> CourseRule:
    """Return the rule the installed pack sets for ``course_key`` (empty when none)."""
    row = db.execute_sql(
        "SELECT p.manifest, c.slug FROM courses c JOIN packs p ON p.id = c.pack_id WHERE c.key = ?",
        (course_key,),
    ).fetchone()
    if row is None:
        return CourseRule()
    manifest = json.loads(row[0])
    course: dict[str, Any] = next(
        (c for c in manifest.get("courses", []) if c.get("slug") == row[1]), {}
    )
    completion = course.get("completion") or {}
    cert = course.get("certificate") or {}
    return CourseRule(
        attendance=completion.get("attendance"),
        certificate_hours=cert.get("hours"),
        certificate_title=cert.get("title"),
        sessions=tuple(course.get("sessions") or ()),
    )


@dataclass(frozen=True)
class RuleStatus:
    items_done: bool
    share: attendance.Share
    needed: float | None

    @property
    def attendance_met(self) -> bool:
        if self.needed is None:
            return True
        fraction = self.share.fraction
        return fraction is not None and fraction + 1e-9 >= self.needed

    @property
    def met(self) -> bool:
        return self.items_done and self.attendance_met


def rule_status(user: User, course_key: str, *, items_done: bool) -> RuleStatus:
    """Return whether ``user`` meets ``course_key``'s rule, given whether its items are done."""
    rule = course_rule(course_key)
    cohorts = [
        int(cid)
        for (cid,) in db.execute_sql(
            "SELECT cohort_id FROM cohort_members WHERE user_id = ?", (user.id,)
        )
    ]
    share = attendance.learner_attendance(user.id, cohorts, course_key)
    return RuleStatus(items_done, share, rule.attendance)
