"""The figures of the ministry's dashboards, transcripts and learner export (issue 21; no Flask).

Every figure is computed here, once per learner and site (``learner_figures``), and a group's
(a cohort's, a site's, a province's) only by ``summarise`` over its learners' figures, so the
province, site, cohort and learner pages, the transcript and the ``learners`` export cannot
disagree. The sites decide; central adds up what their events say:

* completion: a course's share is the required items the site decided completed or passed
  over the items that count (``reports.course_share``, the rule of the completion export);
* average score: per item the highest score the site decided (a decision's ``result.score``),
  then the mean over items;
* time spent: ``sync.protocol.seconds_spent`` of each event on the site's items, added up;
* attendance: the latest mark of each session (``attended`` events), present and late over
  present, late, absent and unmarked (excused left out); the sessions of a cohort are those
  any of its members was marked at, so a member with no mark counts as unmarked, as on the
  site (a session where nobody was marked never reaches central);
* tasks: ``submitted`` versions, ``reviewed`` decisions accepted (and passing) or returned;
* observations: ``observed`` events and their points over the most points;
* competencies: the latest ``assessed`` level per competency (``competencies``);
* certificates: those the site issued and did not revoke.

Docs: docs/progress-rules.md ("Central's figures") and docs/central-server.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sync.protocol import seconds_spent

from . import competencies, reports
from .db import database
from .models import CentralCertificate, SiteCohort, SiteCohortMember
from .practicum import criteria_points, json_object

MARKS = ("present", "late", "excused", "absent", "unmarked")
SESSION_PREFIX = "urn:kru:session:"
# Events that carry a figure beyond time spent; read with every event holding a duration.
_VERBS = ("attended", "submitted", "reviewed", "observed", competencies.VERB)


@dataclass
class Marks:
    """Sessions by their latest mark."""

    present: int = 0
    late: int = 0
    excused: int = 0
    absent: int = 0
    unmarked: int = 0  # sessions of the learner's cohort held with no mark for them

    def add(self, mark: str) -> None:
        if mark in MARKS:
            setattr(self, mark, getattr(self, mark) + 1)

    def plus(self, other: Marks) -> None:
        for name in MARKS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def sessions(self) -> int:
        return sum(getattr(self, name) for name in MARKS)

    @property
    def share(self) -> float | None:
        """Sessions attended (present or late) over those that count: excused ones left out,
        absent and unmarked ones against (the site's rule, docs/progress-rules.md)."""
        counted = self.present + self.late + self.absent + self.unmarked
        return (self.present + self.late) / counted if counted else None


@dataclass
class CourseFigures:
    """One learner's figures on one course of one site."""

    course_key: str
    title_km: str
    title_en: str
    done: int = 0  # items the site decided completed or passed, of those that count
    counted: int = 0  # items that count towards the course
    scores: dict[str, float] = field(default_factory=dict)  # item -> highest decided score
    time_s: int = 0
    attendance: Marks = field(default_factory=Marks)

    @property
    def share(self) -> float:
        return reports.course_share(self.done, self.counted)

    @property
    def completed(self) -> bool:
        return self.counted > 0 and self.share >= 1.0

    @property
    def average_score(self) -> float | None:
        return mean(self.scores.values())


@dataclass
class LearnerFigures:
    """One learner's figures on one site (a record; linked records make a transcript)."""

    device_pk: int
    uid: str
    courses: dict[str, CourseFigures] = field(default_factory=dict)  # the courses started
    scores: dict[str, float] = field(default_factory=dict)  # item -> highest decided score
    time_s: int = 0  # on every item of the site, also those of no course
    attendance: Marks = field(default_factory=Marks)
    submissions: int = 0
    accepted: int = 0
    passed_tasks: int = 0
    returned: int = 0
    observations: int = 0
    observation_points: list[float] = field(default_factory=lambda: [0.0, 0.0])
    levels: dict[str, int] = field(default_factory=dict)  # competency code -> latest level
    certificates: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    last_active_ms: int | None = None

    @property
    def completion(self) -> float | None:
        """Mean share of the courses started (None: none started)."""
        return mean(c.share for c in self.courses.values())

    @property
    def courses_completed(self) -> int:
        return sum(1 for c in self.courses.values() if c.completed)

    @property
    def average_score(self) -> float | None:
        return mean(self.scores.values())

    @property
    def observation_share(self) -> float | None:
        points, most = self.observation_points
        return points / most if most else None

    @property
    def developing(self) -> int:
        """Competencies at level 2 (developing) or above."""
        return sum(1 for level in self.levels.values() if level >= 2)


@dataclass
class GroupFigures:
    """A cohort's, a site's or a province's figures: ``summarise`` of its learners'."""

    learners: int = 0
    started: int = 0  # learners who started a course
    enrolments: int = 0  # (learner, course) pairs started
    completed: int = 0  # of them completed
    completion: float | None = None  # mean share over those pairs
    average_score: float | None = None  # mean over every learner's items with a score
    time_s: int = 0
    time_per_learner_s: int | None = None  # over learners with any time
    attendance: Marks = field(default_factory=Marks)
    submissions: int = 0
    accepted: int = 0
    passed_tasks: int = 0
    returned: int = 0
    observations: int = 0
    observation_share: float | None = None
    assessed: int = 0  # (learner, competency) levels decided
    developing_share: float | None = None  # of them at level 2 or above
    certificates: int = 0

    def json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "attendance"}
        out["attendance"] = {**self.attendance.__dict__, "share": self.attendance.share}
        return out


def mean(values: Iterable[float]) -> float | None:
    """Return the mean of ``values``, or None when there are none."""
    items = list(values)
    return sum(items) / len(items) if items else None


def summarise(figures: Iterable[LearnerFigures]) -> GroupFigures:
    """Return the figures of a group from its learners' (the only way a group gets one)."""
    g = GroupFigures()
    shares: list[float] = []
    scores: list[float] = []
    times: list[int] = []
    points = [0.0, 0.0]
    developing = 0
    for f in figures:
        g.learners += 1
        g.started += bool(f.courses)
        for course in f.courses.values():
            shares.append(course.share)
            g.completed += course.completed
        scores.extend(f.scores.values())
        g.time_s += f.time_s
        if f.time_s:
            times.append(f.time_s)
        g.attendance.plus(f.attendance)
        g.submissions += f.submissions
        g.accepted += f.accepted
        g.passed_tasks += f.passed_tasks
        g.returned += f.returned
        g.observations += f.observations
        points[0] += f.observation_points[0]
        points[1] += f.observation_points[1]
        g.assessed += len(f.levels)
        developing += f.developing
        g.certificates += len(f.certificates)
    g.enrolments = len(shares)
    g.completion = mean(shares)
    g.average_score = mean(scores)
    g.time_per_learner_s = round(g.time_s / len(times)) if times else None
    g.observation_share = points[0] / points[1] if points[1] else None
    g.developing_share = developing / g.assessed if g.assessed else None
    return g


def _sql(query: str, params: tuple = ()) -> list[tuple]:
    return list(database.execute_sql(query.replace("?", database.param), params).fetchall())


MAX_NAMED = 1000  # learners named in a query's IN list; more read the sites whole


def _who(wanted: set[tuple[int, str]] | None) -> tuple[str, tuple]:
    """Return the SQL narrowing a query to the learners asked for (a learner page reads its
    learner's rows, not the site's), or nothing when there are many or all are asked for."""
    uids = sorted({uid for _dev, uid in wanted or ()})
    if wanted is None or not uids or len(uids) > MAX_NAMED:
        return "", ()
    return f" AND user_uid IN ({', '.join(['?'] * len(uids))})", tuple(uids)


def _where(device_pks: list[int] | None, column: str) -> tuple[str, tuple]:
    if device_pks is None:
        return "", ()
    marks = ", ".join(["?"] * len(device_pks)) or "NULL"
    return f" AND {column} IN ({marks})", tuple(device_pks)


def learner_figures(
    device_pks: list[int] | None = None, people: Iterable[tuple[int, str]] | None = None
) -> dict[tuple[int, str], LearnerFigures]:
    """Return the figures of every learner of the sites ``device_pks`` (None: all sites) who
    did something there, keyed by (device row id, learner uid); ``people`` adds learners with
    no event yet (members of a cohort) and, when given, limits the answer to them."""
    wanted = set(people) if people is not None else None
    out: dict[tuple[int, str], LearnerFigures] = {}

    def of(dev: int, uid: str) -> LearnerFigures | None:
        key = (dev, uid)
        if wanted is not None and key not in wanted:
            return None
        found = out.get(key)
        if found is None:
            found = out[key] = LearnerFigures(dev, uid)
        return found

    for dev, uid in sorted(wanted or ()):
        of(dev, uid)
    titles = reports.device_courses()
    items = _items(device_pks)
    started, done = reports.progress_of(device_pks)
    for (dev, course), users in started.items():
        km, en, counted = titles.get((dev, course), ("", "", 0))
        for uid in users:
            f = of(dev, uid)
            if f is not None:
                f.courses[course] = CourseFigures(
                    course, km, en, done.get((dev, course, uid), 0), counted
                )
    where, params = _where(device_pks, "device_id")
    who, named = _who(wanted)
    where, params = where + who, params + named
    for dev, uid, item, score in _sql(
        "SELECT device_id, user_uid, item, MAX(score) FROM central_decisions "  # noqa: S608
        f"WHERE score IS NOT NULL{where} GROUP BY device_id, user_uid, item",
        params,
    ):
        f = of(dev, uid)
        if f is None:
            continue
        f.scores[item] = float(score)
        of_course = f.courses.get(items.get((dev, item), ""))
        if of_course is not None:
            of_course.scores[item] = float(score)
    for dev, uid, n, last in _sql(
        "SELECT device_id, user_uid, COUNT(*), MAX(corrected_ms) FROM central_events "  # noqa: S608
        f"WHERE 1 = 1{where} GROUP BY device_id, user_uid",
        params,
    ):
        f = of(dev, uid)
        if f is not None:
            f.events, f.last_active_ms = int(n), int(last) if last is not None else None
    _from_events(of, items, device_pks, _who(wanted))
    _certificates(of, device_pks)
    return out


def _items(device_pks: list[int] | None) -> dict[tuple[int, str], str]:
    """Return the course key of every item of the sites, by (device, item key)."""
    where, params = _where(device_pks, "device_id")
    return {
        (dev, key): course or ""
        for dev, key, course in _sql(
            f"SELECT device_id, key, course_key FROM device_items WHERE type <> ''{where}",  # noqa: S608
            params,
        )
    }


def _from_events(
    of, items: dict[tuple[int, str], str], device_pks: list[int] | None, who: tuple[str, tuple]
) -> None:
    """Add time spent, attendance, tasks, observations and competency levels (one pass).

    Attendance marks are read for every learner of the sites, even when ``who`` names some:
    a classmate's mark tells which sessions were held, so one learner's page counts their
    unmarked sessions as the cohort page does."""
    where, params = _where(device_pks, "device_id")
    verbs = ", ".join(["?"] * len(_VERBS))
    named = f" AND (verb = 'attended'{who[0].replace(' AND ', ' OR ', 1)})" if who[0] else ""
    query = (
        "SELECT device_id, user_uid, verb, object, result, context, seq FROM central_events "  # noqa: S608
        f"WHERE (verb IN ({verbs}) OR result LIKE ?){where}{named} "
        "ORDER BY device_id, generation, seq"
    )
    params = params + who[1]
    marks: dict[tuple[int, str, str], tuple[str, str]] = {}  # (dev, uid, session) -> mark
    # (dev, cohort uid) -> {session: course}: the sessions central has heard of, by cohort.
    held: dict[tuple[int, str], dict[str, str]] = {}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    levels: dict[tuple[int, str, str], int] = {}
    for dev, uid, verb, obj, result_text, context_text, _seq in _sql(
        query, (*_VERBS, '%"duration_s"%', *params)
    ):
        result = json_object(result_text)
        if verb == "attended" and obj.startswith(SESSION_PREFIX):
            context = json_object(context_text)
            if str(context.get("starts_at") or "") > now:
                continue  # not held yet: the site counts it nowhere either
            course_key = str(context.get("course") or "")
            marks[(dev, uid, obj)] = (str(result.get("response") or ""), course_key)
            held.setdefault((dev, str(context.get("cohort") or "")), {})[obj] = course_key
        f = of(dev, uid)
        if f is None:
            continue
        seconds = seconds_spent(result)
        if seconds and (dev, obj) in items:
            f.time_s += seconds
            course = f.courses.get(items[(dev, obj)])
            if course is not None:
                course.time_s += seconds
        if verb == "submitted":
            f.submissions += 1
        elif verb == "reviewed":
            if result.get("decision") == "accepted":
                f.accepted += 1
                f.passed_tasks += result.get("success") is True
            elif result.get("decision") == "returned":
                f.returned += 1
        elif verb == "observed":
            f.observations += 1
            for _domain, level, most in criteria_points(result):
                f.observation_points[0] += level
                f.observation_points[1] += most
        elif verb == competencies.VERB and obj.startswith(competencies.PREFIX):
            decided = result.get("level")
            if type(decided) is int and decided in competencies.LEVELS:
                levels[(dev, uid, obj[len(competencies.PREFIX) :])] = decided  # in order: latest
    for (dev, cohort_uid), member in _memberships(list({dev for dev, _c in held})):
        for session, course_key in held.get((dev, cohort_uid), {}).items():
            marks.setdefault((dev, member, session), ("unmarked", course_key))
    for (dev, uid, _session), (mark, course_key) in marks.items():
        f = of(dev, uid)
        if f is None:
            continue
        f.attendance.add(mark)
        course = f.courses.get(course_key)
        if course is not None:
            course.attendance.add(mark)
    for (dev, uid, code), level in levels.items():
        of(dev, uid).levels[code] = level


def _memberships(device_pks: list[int]) -> list[tuple[tuple[int, str], str]]:
    """Return ((device, cohort uid), learner uid) of every cohort member of the sites."""
    if not device_pks:
        return []
    query = (
        SiteCohortMember.select(SiteCohort.device, SiteCohort.uid, SiteCohortMember.person_uid)
        .join(SiteCohort, on=(SiteCohortMember.cohort == SiteCohort.id))
        .where(SiteCohort.device.in_(device_pks))
    )
    return [((int(dev), str(c)), str(uid)) for dev, c, uid in query.tuples().iterator()]


def _certificates(of, device_pks: list[int] | None) -> None:
    query = CentralCertificate.select().where(CentralCertificate.revoked_at.is_null())
    if device_pks is not None:
        query = query.where(CentralCertificate.device.in_(device_pks))
    for cert in query.order_by(CentralCertificate.issued, CentralCertificate.code):
        f = of(int(cert.__data__["device"]), cert.user_uid)
        if f is None:
            continue
        record = json.loads(cert.record or "{}")
        course = record.get("course") if isinstance(record.get("course"), dict) else {}
        f.certificates.append(
            {
                "code": cert.code,
                "issued": cert.issued,
                "hours": cert.hours,
                "course_key": str(course.get("key") or ""),
                "title_km": str(course.get("km") or ""),
                "title_en": str(course.get("en") or ""),
            }
        )
