"""What the ministry dashboard, its CSV exports and its JSON API show (no Flask here).

Completion of a course by a learner is the share of the course's required items they have
an event with a completion verb on; a site's (or province's, or cohort's) completion is the
mean over the learners who started the course there. Times are corrected by the clock offset
recorded per batch (``corrected_ms``).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sync.protocol import ms_to_ts

from .db import database
from .models import Device, SiteCohort, SiteCohortMember

COMPLETION_VERBS = ("completed", "passed", "mastered")
XAPI_VERBS = {
    "completed",
    "passed",
    "failed",
    "attempted",
    "experienced",
    "answered",
    "mastered",
    "launched",
    "initialized",
    "terminated",
    "progressed",
    "scored",
    "interacted",
    "viewed",
}


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
            "signing_key": d.signing_key,
            "offered_signing_key": d.offered_signing_key,
        }
        for d in Device.select().order_by(Device.province, Device.name)
    ]


def _courses() -> dict[str, tuple[str, str, int]]:
    return {
        key: (km or "", en or "", int(n or 0))
        for key, km, en, n in _sql(
            "SELECT course_key, MAX(course_title_km), MAX(course_title_en), MAX(course_items) "
            "FROM catalog_items WHERE course_key <> '' GROUP BY course_key"
        )
    }


_STARTED_SQL = (
    "SELECT DISTINCT e.device_id, i.course_key, e.user_uid FROM central_events e "
    "JOIN catalog_items i ON i.key = e.object WHERE i.course_key <> ''"
)
_DONE_SQL = (
    "SELECT e.device_id, i.course_key, e.user_uid, COUNT(DISTINCT e.object) "
    "FROM central_events e JOIN catalog_items i ON i.key = e.object "
    "WHERE i.course_key <> '' "
)
_DONE_GROUP = " GROUP BY e.device_id, i.course_key, e.user_uid"


def _progress(
    device_pk: int | None = None,
) -> tuple[dict[tuple[int, str], set[str]], dict[tuple[int, str, str], int]]:
    """Return learners who started each (device, course) and items done per learner."""
    where, params = ("", ()) if device_pk is None else (" AND e.device_id = ?", (device_pk,))
    started: dict[tuple[int, str], set[str]] = defaultdict(set)
    for device, course, user in _sql("".join((_STARTED_SQL, where)), params):
        started[(device, course)].add(user)
    verbs = ", ".join("?" for _ in COMPLETION_VERBS)
    done: dict[tuple[int, str, str], int] = {}
    query = "".join((_DONE_SQL, "AND e.verb IN (", verbs, ")", where, _DONE_GROUP))
    for device, course, user, count in _sql(query, (*COMPLETION_VERBS, *params)):
        done[(device, course, user)] = count
    return started, done


def _summarise(
    courses: dict[str, tuple[str, str, int]],
    groups: dict[tuple[Any, str], list[tuple[int, str]]],
    done: dict[tuple[int, str, str], int],
) -> dict[Any, list[CourseCompletion]]:
    out: dict[Any, list[CourseCompletion]] = defaultdict(list)
    for (group, course), learners in sorted(groups.items(), key=lambda kv: str(kv[0])):
        km, en, total = courses.get(course, ("", "", 0))
        shares = [
            min(1.0, done.get((dev, course, user), 0) / total) if total else 0.0
            for dev, user in learners
        ]
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


def completion_by_site() -> dict[int, list[CourseCompletion]]:
    """Return course completion per site (keyed by the device's row id)."""
    started, done = _progress()
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


def sites_csv() -> str:
    """Return the site list as CSV text."""
    buf = io.StringIO()
    columns = [
        "id",
        "name",
        "province",
        "site_kind",
        "enabled",
        "last_seen_at",
        "events_received",
        "backlog",
        "clock_offset_s",
    ]
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in site_rows():
        writer.writerow(row)
    return buf.getvalue()


def completion_csv() -> str:
    """Return completion per course per site as CSV text."""
    devices = {d.id: d for d in Device.select()}
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        [
            "device_id",
            "site",
            "province",
            "course_key",
            "course_title_en",
            "course_title_km",
            "learners_started",
            "learners_completed",
            "completion_pct",
        ]
    )
    for dev_pk, courses in sorted(completion_by_site().items()):
        device = devices[dev_pk]
        for c in courses:
            writer.writerow(
                [
                    device.device_id,
                    device.name,
                    device.province,
                    c.course_key,
                    c.title_en,
                    c.title_km,
                    c.learners,
                    c.completed,
                    round(100 * c.completion, 1),
                ]
            )
    return buf.getvalue()


def xapi_statements(after: int = 0, limit: int = 100, homepage: str = "") -> dict[str, Any]:
    """Return up to ``limit`` events after row ``after`` as xAPI statements, with a cursor."""
    rows = _sql(
        "SELECT e.id, e.event_id, e.verb, e.object, e.result, e.context, e.corrected_ms, "
        "e.received_ms, e.user_uid, d.device_id, d.name, p.display_name, i.title_km, i.title_en, "
        "i.type, i.course_key FROM central_events e JOIN devices d ON d.id = e.device_id "
        "LEFT JOIN people p ON p.device_id = e.device_id AND p.uid = e.user_uid "
        "LEFT JOIN catalog_items i ON i.key = e.object WHERE e.id > ? ORDER BY e.id LIMIT ?",
        (after, limit),
    )
    statements = []
    home = homepage or "urn:kru"
    for (
        _pk,
        event_id,
        verb,
        obj,
        result,
        context,
        corrected,
        received,
        user_uid,
        device_id,
        site,
        display_name,
        title_km,
        title_en,
        item_type,
        course_key,
    ) in rows:
        verb_id = (
            f"http://adlnet.gov/expapi/verbs/{verb}"
            if verb in XAPI_VERBS
            else f"urn:kru:verb:{verb}"
        )
        statement: dict[str, Any] = {
            "id": event_id,
            "actor": {
                "objectType": "Agent",
                "name": display_name or user_uid,
                "account": {"homePage": home, "name": user_uid},
            },
            "verb": {"id": verb_id, "display": {"en-US": verb}},
            "object": {
                "objectType": "Activity",
                "id": f"urn:kru:item:{obj}",
                "definition": {
                    "name": {k: v for k, v in (("km", title_km), ("en", title_en)) if v},
                    "type": f"urn:kru:item-type:{item_type}" if item_type else "urn:kru:item",
                },
            },
            "timestamp": ms_to_ts(corrected),
            "stored": ms_to_ts(received),
            "context": {
                "platform": "Kru",
                "extensions": {
                    "urn:kru:device": device_id,
                    "urn:kru:site": site,
                    "urn:kru:course": course_key or "",
                    "urn:kru:context": json.loads(context) if context else None,
                },
            },
        }
        parsed = json.loads(result) if result else None
        if isinstance(parsed, dict):
            statement["result"] = parsed
        statements.append(statement)
    more = rows[-1][0] if len(rows) == limit else None
    return {"statements": statements, "next_after": more}
