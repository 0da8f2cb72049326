"""Face-to-face sessions of a cohort and attendance at them (issue 16, items 1-2).

An instructor schedules a session (title, local date and time, place, linked items); its time
is stored in UTC and shown in the site's time zone (setting ``time_zone``). Attendance is an
``attended`` event in the log, one per change of a learner's mark: its id is derived from
the session, the learner and the mark's number (uuid5), so a repeated tap or a resent form
makes no second event, and the latest mark wins (docs/progress-rules.md). The
``f2f_attendance`` table is the summary the pages read.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peewee import SQL

from ..accounts.models import Cohort, CohortMember, User
from ..base.db import as_one_row, compiled, db, models_of, raw_models
from ..base.errors import N_, NotFound, PermissionDenied, ValidationError
from ..learning.events import boot_id, now_ts
from ..learning.models import Event
from .models import Attendance, F2FSession

log = logging.getLogger(__name__)

STATUSES = ("present", "late", "excused", "absent")
ATTENDED = ("present", "late")  # count as attended; "excused" is left out of the share
VERB = "attended"
OBJECT_PREFIX = "urn:kru:session:"  # not an item key: sync sends no catalog row for it
ATTENDANCE_NAMESPACE = uuid.UUID("6c0c2f61-1d1b-4f8e-9a57-6b7275000016")
CODE_ALPHABET = "ACDEFHJKMNPRTWXY3479"  # no 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B: typed from a board
CODE_LENGTH = 6


class SessionError(ValidationError):
    code = "invalid_session"


def zone(name: str) -> ZoneInfo:
    """Return the time zone ``name`` (the ``time_zone`` setting).

    Raises:
        SessionError: the name is not a known time zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SessionError(N_("Unknown time zone %(zone)s"), zone=name) from None


def to_utc(local: str, tz: ZoneInfo) -> str:
    """Return local ``YYYY-MM-DDTHH:MM`` in ``tz`` as UTC ISO 8601 text.

    Raises:
        SessionError: the text is not a date and time.
    """
    try:
        when = datetime.fromisoformat(local.strip())
    except (ValueError, AttributeError):
        raise SessionError(N_("Give the session's date and time.")) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(UTC).isoformat(timespec="seconds")


def to_local(utc_text: str, tz: ZoneInfo) -> datetime:
    return datetime.fromisoformat(utc_text).astimezone(tz)


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


@dataclass
class SessionView:
    session: F2FSession
    local: datetime
    items: list[str]
    counts: dict[str, int]

    @property
    def id(self) -> int:
        return self.session.id

    def json(self) -> dict[str, Any]:
        s = self.session
        return {
            "id": s.id,
            "uid": s.uid,
            "cohort": s.cohort_id,
            "course": s.course or None,
            "title": s.title,
            "starts_at": s.starts_at,
            "local_time": self.local.isoformat(timespec="minutes"),
            "minutes": s.minutes,
            "place": s.place,
            "items": self.items,
            "checkin_open": bool(s.checkin_open),
            "attendance": self.counts,
        }


def _view(s: F2FSession, tz: ZoneInfo, counts: dict[str, int] | None = None) -> SessionView:
    return SessionView(s, to_local(s.starts_at, tz), json.loads(s.items or "[]"), counts or {})


def schedule(
    cohort: Cohort,
    *,
    title: str,
    local_start: str,
    tz: ZoneInfo,
    place: str = "",
    minutes: int = 120,
    course: str = "",
    items: list[str] | None = None,
    by: User | None = None,
) -> F2FSession:
    """Schedule a face-to-face session of ``cohort``.

    Raises:
        SessionError: the title or the date and time is missing or malformed.
    """
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise SessionError(N_("Give the session a title of at most 200 characters."))
    if not 5 <= minutes <= 24 * 60:
        raise SessionError(N_("A session lasts from 5 minutes to 24 hours."))
    starts = to_utc(local_start, tz)
    with db.atomic():
        code = _new_code()
        for _ in range(10):
            if not F2FSession.select().where(F2FSession.code == code).exists():
                break
            code = _new_code()
        return F2FSession.create(
            cohort=cohort,
            course=course or "",
            title=title,
            starts_at=starts,
            minutes=minutes,
            place=(place or "").strip()[:200],
            items=json.dumps([k for k in (items or []) if k], ensure_ascii=False),
            code=code,
            created_by=by,
        )


def get(session_id: int) -> F2FSession:
    """Return session ``session_id``.

    Raises:
        NotFound: no such session.
    """
    found = F2FSession.get_or_none(F2FSession.id == session_id)
    if found is None:
        raise NotFound(N_("No such session"))
    return found


def _counts(session_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {sid: {} for sid in session_ids}
    if not session_ids:
        return out
    for sid, status, n in db.execute_sql(
        "SELECT session_id, status, COUNT(*) FROM f2f_attendance "  # noqa: S608 - placeholders only
        f"WHERE session_id IN ({','.join('?' * len(session_ids))}) GROUP BY 1, 2",
        session_ids,
    ):
        out[sid][status] = n
    return out


def cohort_sessions(cohort: Cohort, tz: ZoneInfo) -> list[SessionView]:
    """Return the cohort's sessions, soonest first, with their attendance counts."""
    rows = list(
        F2FSession.select().where(F2FSession.cohort == cohort).order_by(F2FSession.starts_at)
    )
    counts = _counts([s.id for s in rows])
    return [_view(s, tz, counts[s.id]) for s in rows]


@cache
def _upcoming_sql() -> str:
    """SQL of a user's (parameter 1) next sessions from a time (parameter 2), built once: the
    learner home page asks on every visit, and peewee took a fifth of its time to build it."""
    value = SQL("?")
    return compiled(
        F2FSession.select()
        .join(CohortMember, on=(CohortMember.cohort == F2FSession.cohort))
        .where((CohortMember.user == value) & (F2FSession.starts_at >= value))
        .order_by(F2FSession.starts_at)
        .limit(SQL("10"))
    )


def upcoming_for(user: User, tz: ZoneInfo, *, now: datetime | None = None) -> list[SessionView]:
    """Return the sessions of ``user``'s cohorts not yet over, soonest first."""
    now = now or datetime.now(UTC)
    found = raw_models(F2FSession, _upcoming_sql(), upcoming_params(user, now))
    return _not_over(found, tz, now)


def _not_over(found: list[F2FSession], tz: ZoneInfo, now: datetime) -> list[SessionView]:
    views = [_view(s, tz) for s in found]
    return [v for v in views if v.local + timedelta(minutes=v.session.minutes) >= now]


_SESSION_COLUMNS = tuple(field.column_name for field in F2FSession._meta.sorted_fields)


@cache
def upcoming_json_sql() -> str:
    """SQL of ``upcoming_for``'s sessions as one JSON value, for a page that reads it with
    other values in one query (parameters: ``upcoming_params``)."""
    return as_one_row(_upcoming_sql(), _SESSION_COLUMNS)


def upcoming_params(user: User, now: datetime) -> list[Any]:
    """Return the parameters of ``_upcoming_sql`` and ``upcoming_json_sql``."""
    return [user.id, (now - timedelta(hours=24)).isoformat(timespec="seconds")]


def upcoming_from_json(text: str, tz: ZoneInfo, now: datetime) -> list[SessionView]:
    """Return what ``upcoming_for`` returns from the value of ``upcoming_json_sql``."""
    return _not_over(models_of(F2FSession, _SESSION_COLUMNS, json.loads(text)), tz, now)


@dataclass
class RosterLine:
    user_id: int
    username: str
    display_name: str
    status: str | None


def roster(session: F2FSession) -> list[RosterLine]:
    """Return every learner of the session's cohort with their mark (None: not marked)."""
    rows = db.execute_sql(
        "SELECT u.id, u.username, u.display_name, a.status FROM cohort_members m "
        "JOIN users u ON u.id = m.user_id "
        "LEFT JOIN f2f_attendance a ON a.session_id = ? AND a.user_id = u.id "
        "WHERE m.cohort_id = ? AND u.role = 'learner' AND u.active "
        "ORDER BY u.display_name, u.username",
        (session.id, session.cohort_id),
    ).fetchall()
    return [RosterLine(*row) for row in rows]


def event_id(session: F2FSession, learner: User, mark: int) -> str:
    """Return the id of the ``mark``-th mark of ``learner`` at ``session`` (uuid5)."""
    return str(uuid.uuid5(ATTENDANCE_NAMESPACE, f"{session.uid}:{learner.uid}:{mark}"))


def mark(
    session: F2FSession, learner: User, status: str, *, by: User | None, how: str = "roll"
) -> bool:
    """Record ``learner``'s attendance at ``session``; return whether anything changed.

    The same mark again changes nothing; a different one appends a new event.

    Raises:
        SessionError: the status is unknown.
        PermissionDenied: the learner is not in the session's cohort.
    """
    if status not in STATUSES:
        raise SessionError(
            N_("Attendance must be one of %(statuses)s"), statuses=", ".join(STATUSES)
        )
    member = (
        CohortMember.select()
        .where((CohortMember.cohort == session.cohort_id) & (CohortMember.user == learner))
        .exists()
    )
    if not member:
        raise PermissionDenied(N_("This learner is not in the session's cohort."))
    ts = now_ts()
    with db.atomic():
        current = Attendance.get_or_none(
            (Attendance.session == session) & (Attendance.user == learner)
        )
        if current is not None and current.status == status:
            return False
        number = 1 if current is None else current.marks + 1
        eid = event_id(session, learner, number)
        context = {
            "session": session.uid,
            "cohort": session.cohort.uid,
            "course": session.course or None,
            "title": session.title,
            "starts_at": session.starts_at,
            "mark": number,
            "how": how,
            "by": by.uid if by is not None else None,
        }
        Event.insert(
            id=eid,
            user=learner.id,
            verb=VERB,
            object=OBJECT_PREFIX + session.uid,
            result=json.dumps({"response": status}),
            context=json.dumps(context, ensure_ascii=False),
            client_ts=ts,
            server_ts=ts,
            boot_id=boot_id(),
        ).on_conflict_ignore().execute()
        Attendance.insert(
            session=session, user=learner, status=status, marks=number, event_id=eid, marked_at=ts
        ).on_conflict_replace().execute()
        if session.course and status in ATTENDED:
            from .certificates import check  # certificates build on attendance

            check(learner, session.course)  # this mark may complete the attendance share
    return True


def set_checkin(session: F2FSession, is_open: bool) -> None:
    F2FSession.update(checkin_open=is_open).where(F2FSession.id == session.id).execute()


def check_in(learner: User, code: str) -> F2FSession:
    """Mark ``learner`` present at the open session whose code is ``code``.

    A learner already marked (late or excused by the instructor) keeps that mark.

    Raises:
        SessionError: no session has this code, or its check-in is closed.
        PermissionDenied: the learner is not in the session's cohort.
    """
    found = F2FSession.get_or_none(F2FSession.code == normalize_code(code))
    if found is None:
        raise SessionError(N_("No session has this code. Check it on the board."), code="bad_code")
    if not found.checkin_open:
        raise SessionError(
            N_("Check-in for this session is closed. Ask your instructor."), code="checkin_closed"
        )
    current = Attendance.get_or_none((Attendance.session == found) & (Attendance.user == learner))
    if current is None or current.status == "absent":
        mark(found, learner, "present", by=learner, how="code")
    return found


def learner_attendance(user_id: int, cohort_ids: list[int], course: str | None = None) -> Share:
    """Return ``user_id``'s attendance share over the past sessions of ``cohort_ids``."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    where = "s.cohort_id IN (SELECT value FROM json_each(?)) AND s.starts_at <= ?"
    params: list[Any] = [json.dumps(cohort_ids), now]
    if course is not None:
        where += " AND s.course = ?"
        params.append(course)
    rows = db.execute_sql(
        f"SELECT a.status FROM f2f_sessions s LEFT JOIN f2f_attendance a "  # noqa: S608 - constant
        f"ON a.session_id = s.id AND a.user_id = ? WHERE {where}",
        [user_id, *params],
    ).fetchall()
    return Share.of([r[0] for r in rows])


@dataclass
class Share:
    held: int = 0
    attended: int = 0
    excused: int = 0

    @classmethod
    def of(cls, statuses: list[str | None]) -> Share:
        return cls(
            held=len(statuses),
            attended=sum(1 for s in statuses if s in ATTENDED),
            excused=sum(1 for s in statuses if s == "excused"),
        )

    @property
    def counted(self) -> int:
        return self.held - self.excused

    @property
    def fraction(self) -> float | None:
        """Attended sessions over held ones, excused ones left out; None when none count."""
        return self.attended / self.counted if self.counted else None


def cohort_shares(cohort: Cohort) -> dict[int, Share]:
    """Return each learner's attendance share over the cohort's past sessions."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows = db.execute_sql(
        "SELECT m.user_id, a.status FROM cohort_members m "
        "JOIN f2f_sessions s ON s.cohort_id = m.cohort_id AND s.starts_at <= ? "
        "LEFT JOIN f2f_attendance a ON a.session_id = s.id AND a.user_id = m.user_id "
        "WHERE m.cohort_id = ?",
        (now, cohort.id),
    ).fetchall()
    by_user: dict[int, list[str | None]] = {}
    for user_id, status in rows:
        by_user.setdefault(user_id, []).append(status)
    return {uid: Share.of(statuses) for uid, statuses in by_user.items()}


def attendance_rows(cohort: Cohort, tz: ZoneInfo) -> list[list[Any]]:
    """Return the header and one row per learner and session, for the attendance CSV."""
    out: list[list[Any]] = [
        ["session", "title", "local_time", "place", "username", "name", "status", "marked_at"]
    ]
    for s in cohort_sessions(cohort, tz):
        for line in roster(s.session):
            marked = Attendance.get_or_none(
                (Attendance.session == s.id) & (Attendance.user == line.user_id)
            )
            out.append(
                [
                    s.session.uid,
                    s.session.title,
                    s.local.isoformat(timespec="minutes"),
                    s.session.place,
                    line.username,
                    line.display_name,
                    line.status or "",
                    marked.marked_at if marked else "",
                ]
            )
    return out


def session_learner(session: F2FSession, user_id: int) -> User:
    """Return learner ``user_id`` of the session's cohort.

    Raises:
        NotFound: no such learner in the cohort.
    """
    learner = (
        User.select()
        .join(CohortMember, on=(CohortMember.user == User.id))
        .where((CohortMember.cohort == session.cohort_id) & (User.id == user_id))
        .first()
    )
    if learner is None:
        raise NotFound(N_("No such learner in this cohort"))
    return learner
