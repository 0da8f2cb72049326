"""What the ministry dashboard, its CSV exports and its JSON API show (no Flask here).

Completion of a course by a learner is the share of the course's required items their site
decided completed or passed (``central_decisions``: the site decides, central reports and
applies no rules of its own); a site's (or province's, or cohort's) completion is the mean
over the learners who started the course there. Course titles and required-item counts are
each site's own (``device_items``), so one site cannot change another's figures. Times are
corrected by the clock offset recorded per batch (``corrected_ms``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .db import database
from .models import Device, Person, SiteCohort, SiteCohortMember

DONE_DECISIONS = ("completed", "passed")


@dataclass
class CourseCompletion:
    course_key: str
    title_km: str
    title_en: str
    learners: int  # started the course
    completed: int  # finished every required item
    completion: float  # mean share of required items completed, 0..1


def _sql(query: str, params: tuple = ()) -> list[tuple]:
    return list(database.execute_sql(query.replace("?", database.param), params).fetchall())


def site_rows() -> list[dict[str, Any]]:
    """Return one dict per site: identity, last contact, events, backlog, clock offset."""
    return [
        {
            "id": d.device_id,
            "name": d.name,
            "province": d.province,
            "site_kind": d.site_kind,
            "enabled": bool(d.enabled),
            "last_seen_at": d.last_seen_at,
            "events_received": d.events_received,
            "acked_seq": d.acked_seq,
            "backlog": d.backlog,
            "clock_offset_s": d.clock_offset_s,
            "modem": json.loads(d.modem) if d.modem else None,
            "sends_decisions": bool(d.decisions),
            "signing_key": d.signing_key,
            "offered_signing_key": d.offered_signing_key,
        }
        for d in Device.select().order_by(Device.province, Device.name)
    ]


def _courses() -> dict[tuple[int, str], tuple[str, str, int]]:
    """Return (title km, title en, items that count) by (device, course), as each site said."""
    return {
        (device, key): (km or "", en or "", int(n or 0))
        for device, key, km, en, n in _sql(
            "SELECT device_id, course_key, MAX(course_title_km), MAX(course_title_en), "
            "MAX(course_items) FROM device_items WHERE course_key <> '' "
            "GROUP BY device_id, course_key"
        )
    }


_STARTED_SQL = (
    "SELECT DISTINCT e.device_id, i.course_key, e.user_uid FROM central_events e "
    "JOIN device_items i ON i.device_id = e.device_id AND i.key = e.object "
    "WHERE i.course_key <> ''"
)
_DONE_SQL = (
    "SELECT d.device_id, i.course_key, d.user_uid, COUNT(DISTINCT d.item) "
    "FROM central_decisions d JOIN device_items i ON i.device_id = d.device_id AND i.key = d.item "
    "WHERE i.course_key <> '' AND i.counts AND d.decision IN (?, ?)"
)
_DONE_GROUP = " GROUP BY d.device_id, i.course_key, d.user_uid"


def _progress(
    device_pk: int | None = None, period: tuple[int, int] | None = None
) -> tuple[dict[tuple[int, str], set[str]], dict[tuple[int, str, str], int]]:
    """Return learners who started each (device, course) and items done per learner.

    With ``period`` (first and last millisecond, UTC), a learner counts as started when they
    did something on the course within it, and items count as done when decided by its end.
    """
    started: dict[tuple[int, str], set[str]] = defaultdict(set)
    where, params = ("", ()) if device_pk is None else (" AND e.device_id = ?", (device_pk,))
    if period is not None:
        where += " AND e.corrected_ms BETWEEN ? AND ?"
        params = (*params, *period)
    for device, course, user in _sql("".join((_STARTED_SQL, where)), params):
        started[(device, course)].add(user)
    done: dict[tuple[int, str, str], int] = {}
    where, params = ("", ()) if device_pk is None else (" AND d.device_id = ?", (device_pk,))
    if period is not None:
        where += " AND d.decided_ms <= ?"
        params = (*params, period[1])
    query = "".join((_DONE_SQL, where, _DONE_GROUP))
    for device, course, user, count in _sql(query, (*DONE_DECISIONS, *params)):
        done[(device, course, user)] = count
    return started, done


def _summarise(
    courses: dict[tuple[int, str], tuple[str, str, int]],
    groups: dict[tuple[Any, str], list[tuple[int, str]]],
    done: dict[tuple[int, str, str], int],
) -> dict[Any, list[CourseCompletion]]:
    out: dict[Any, list[CourseCompletion]] = defaultdict(list)
    for (group, course), learners in sorted(groups.items(), key=lambda kv: str(kv[0])):
        shares = []
        for dev, user in learners:
            total = courses.get((dev, course), ("", "", 0))[2]
            shares.append(min(1.0, done.get((dev, course, user), 0) / total) if total else 0.0)
        # A group of several sites shows the titles of its first site.
        km, en, _total = courses.get((min(dev for dev, _u in learners), course), ("", "", 0))
        out[group].append(
            CourseCompletion(
                course,
                km,
                en,
                len(learners),
                sum(1 for s in shares if s >= 1.0),
                sum(shares) / len(shares) if shares else 0.0,
            )
        )
    return out


def completion_by_site(
    period: tuple[int, int] | None = None,
) -> dict[int, list[CourseCompletion]]:
    """Return course completion per site (keyed by the device's row id), of learners active
    within ``period`` (first and last millisecond, UTC) when one is given."""
    started, done = _progress(period=period)
    groups = {(dev, course): [(dev, u) for u in users] for (dev, course), users in started.items()}
    return _summarise(_courses(), groups, done)


def completion_by_province() -> dict[str, list[CourseCompletion]]:
    """Return course completion per province (learners of all its sites together)."""
    provinces = {d.id: d.province or "?" for d in Device.select(Device.id, Device.province)}
    started, done = _progress()
    groups: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for (dev, course), users in started.items():
        groups[(provinces.get(dev, "?"), course)].extend((dev, u) for u in users)
    return _summarise(_courses(), groups, done)


def site_cohorts(device: Device) -> list[dict[str, Any]]:
    """Return the cohorts of one site, each with its members and course completion."""
    started, done = _progress(device.id)
    courses = _courses()
    result = []
    for cohort in (
        SiteCohort.select().where(SiteCohort.device == device.id).order_by(SiteCohort.name)
    ):
        members = {
            m.person_uid
            for m in SiteCohortMember.select(SiteCohortMember.person_uid).where(
                SiteCohortMember.cohort == cohort.id
            )
        }
        groups = {
            (cohort.uid, course): [(device.id, u) for u in sorted(users & members)]
            for (_dev, course), users in started.items()
            if users & members
        }
        result.append(
            {
                "uid": cohort.uid,
                "name": cohort.name,
                "members": len(members),
                "courses": _summarise(courses, groups, done).get(cohort.uid, []),
            }
        )
    return result


def course_choices() -> list[tuple[str, str, str]]:
    """Return (course key, title km, title en) of every course a site described, by key."""
    return [
        (key, km or "", en or "")
        for key, km, en in _sql(
            "SELECT course_key, MAX(course_title_km), MAX(course_title_en) FROM device_items "
            "WHERE course_key <> '' GROUP BY course_key ORDER BY course_key"
        )
    ]


@dataclass
class LearnerRow:
    uid: str
    name: str
    username: str
    courses: dict[str, tuple[int, int]]  # course key -> (items done, items that count)
    average_score: float | None  # mean score of the items the site decided with a score, 0..1
    events: int
    last_active_ms: int | None


def cohort_learners(device: Device, cohort: SiteCohort) -> list[LearnerRow]:
    """Return each member of one site's cohort with their courses, score and last activity."""
    members = [
        m.person_uid
        for m in SiteCohortMember.select(SiteCohortMember.person_uid).where(
            SiteCohortMember.cohort == cohort.id
        )
    ]
    if not members:
        return []
    people = {
        p.uid: p
        for p in Person.select().where((Person.device == device.id) & (Person.uid.in_(members)))
    }
    started, done = _progress(device.id)
    totals = _courses()
    activity = {
        uid: (int(n), int(last) if last is not None else None)
        for uid, n, last in _sql(
            "SELECT user_uid, COUNT(*), MAX(corrected_ms) FROM central_events "
            "WHERE device_id = ? GROUP BY user_uid",
            (device.id,),
        )
    }
    scores = {
        uid: float(avg)
        for uid, avg in _sql(
            "SELECT user_uid, AVG(score) FROM central_decisions WHERE device_id = ? "
            "AND score IS NOT NULL GROUP BY user_uid",
            (device.id,),
        )
    }
    rows = []
    for uid in members:
        person = people.get(uid)
        courses = {
            course: (
                done.get((device.id, course, uid), 0),
                totals.get((dev, course), ("", "", 0))[2],
            )
            for (dev, course), users in sorted(started.items())
            if uid in users
        }
        events, last = activity.get(uid, (0, None))
        rows.append(
            LearnerRow(
                uid,
                person.display_name if person else uid,
                person.username if person else "",
                courses,
                scores.get(uid),
                events,
                last,
            )
        )
    return sorted(rows, key=lambda r: r.name)
