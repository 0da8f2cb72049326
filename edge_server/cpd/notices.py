"""What the learner home shows of face-to-face sessions and discussions, read in one query.

The home asked for its upcoming sessions and its count of new replies in two queries; under
load each query hands Python's lock to other threads around its steps, so the two were
about a tenth of the home's time (issue 22).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..accounts.models import User
from ..base.db import db
from . import attendance, discussion


@dataclass
class Notices:
    upcoming: list[attendance.SessionView]
    new_replies: int


def for_learner(user: User, tz: ZoneInfo, *, now: datetime | None = None) -> Notices:
    """Return ``user``'s upcoming sessions (``attendance.upcoming_for``) and unseen replies
    (``discussion.new_replies``), in one query."""
    now = now or datetime.now(UTC)
    # Both parts are the modules' own SQL; the values are parameters.
    sql = f"SELECT ({attendance.upcoming_json_sql()}), ({discussion.NEW_REPLIES_SQL})"
    params = [*attendance.upcoming_params(user, now), *discussion.new_replies_params(user)]
    upcoming, replies = db.execute_sql(sql, params).fetchone()
    return Notices(attendance.upcoming_from_json(upcoming, tz, now), int(replies))
