"""xAPI 1.0.3 statements from the events the sites sent (no Flask here).

One table, ``VERBS``, maps each kind of Kru event to its verb IRI and display names: a new
kind of event (attendance, certificates, submissions...) is one line there. Statements are
built for a learning record store, so they carry only what xAPI defines:

* the actor is an account on the central server's home page (``central.public_url``) named
  by the learner's pseudonymous id (a random uid made on the site); their name only when
  ``central.xapi_names`` is on;
* activity ids are IRLs under the public URL, with names in Khmer and English;
* ``result`` holds ``score.scaled``, ``success``, ``completion`` and an ISO 8601
  ``duration``; Kru's own fields (answers, media position) go in result extensions;
* ``context`` names the site, the learner's cohorts and a ``registration`` (one per learner,
  site and course), with the course as parent activity;
* ``timestamp`` is the event's time corrected by the site's clock offset; ``stored`` is left
  to the receiving LRS.

Completion, passing and failing are the site's decisions (``decided_by: site``): only those
are exported with ADL's completed/passed/failed. The same verbs sent by a phone (a claim
the site's rules then judged) or echoed by the site for a graded quiz attempt are exported
with Kru's ``reported-*`` verbs, so a learning record store counting ADL verbs counts each
decision once.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from edge_server.base.errors import N_, ConfigError
from sync import protocol
from sync.protocol import ms_to_ts

from .db import database

ADL = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITY = "http://adlnet.gov/expapi/activities/"
XAPI_VERSION = "1.0.3"
# Registration ids: uuid5 of (site, learner, course) in this namespace.
REGISTRATION_NAMESPACE = uuid.UUID("8f0c7a52-6d3e-4b8a-a1f2-6b7275000021")


@dataclass(frozen=True)
class Verb:
    """How one kind of Kru event is written as an xAPI verb."""

    iri: str  # absolute; a relative one is Kru's, under <public_url>/xapi/verbs/
    en: str
    km: str


# Kind of event -> verb. Kinds are the event's verb, except completed/passed/failed that the
# site did not decide, which are "reported-<verb>" (see ``event_kind``).
VERBS: dict[str, Verb] = {
    "viewed": Verb(ADL + "experienced", "experienced", "បានមើល"),
    "progressed": Verb(ADL + "progressed", "progressed", "បានបន្ត"),
    "answered": Verb(ADL + "answered", "answered", "បានឆ្លើយ"),
    "attempted": Verb(ADL + "attempted", "attempted", "បានសាកល្បង"),
    "completed": Verb(ADL + "completed", "completed", "បានបញ្ចប់"),
    "passed": Verb(ADL + "passed", "passed", "បានជាប់"),
    "failed": Verb(ADL + "failed", "failed", "បានធ្លាក់"),
    "attended": Verb(ADL + "attended", "attended", "បានចូលរួម"),
    "reported-completed": Verb("reported-completed", "reported completed", "បានរាយការណ៍ថាបញ្ចប់"),
    "reported-passed": Verb("reported-passed", "reported passed", "បានរាយការណ៍ថាជាប់"),
    "reported-failed": Verb("reported-failed", "reported failed", "បានរាយការណ៍ថាធ្លាក់"),
    "certified": Verb("certified", "was certified", "បានទទួលវិញ្ញាបនបត្រ"),
    "submitted": Verb("submitted", "submitted", "បានដាក់ស្នើ"),
    "reviewed": Verb("reviewed", "was reviewed", "ត្រូវបានពិនិត្យ"),
    "observed": Verb("observed", "was observed teaching", "ត្រូវបានសង្កេតការបង្រៀន"),
    "reflected": Verb(ADL + "commented", "reflected", "បានឆ្លុះបញ្ចាំង"),
    "posted": Verb(ADL + "commented", "posted", "បានបង្ហោះ"),
    "assessed": Verb("assessed", "was assessed", "ត្រូវបានវាយតម្លៃ"),  # a competency level
}
# A verb no line above knows yet (a newer site): Kru's IRI of the verb itself.

# Kru item type -> ADL activity type.
ACTIVITY_TYPES = {
    "lesson": "lesson",
    "quiz": "assessment",
    "video": "media",
    "audio": "media",
    "image": "media",
    "pdf": "file",
    "html5": "interaction",
    "course": "course",
}

# Result fields Kru records that xAPI has no field for: result extensions by name.
RESULT_EXTENSIONS = ("response", "position_s", "level")


class ExportNotConfigured(ConfigError):
    """The xAPI export needs ``central.public_url``."""

    code = "public_url_missing"
    status = 409


def base_url(public_url: str) -> str:
    """Return the IRL base of statements: ``central.public_url`` without a trailing slash.

    Raises:
        ExportNotConfigured: the setting is empty or not an http(s) URL.
    """
    url = (public_url or "").strip().rstrip("/")
    if not url.startswith(("https://", "http://")) or len(url) < 10:
        raise ExportNotConfigured(
            N_(
                "Set central.public_url (KRU_CENTRAL_PUBLIC_URL) to the central server's "
                "public https address before exporting xAPI statements"
            )
        )
    return url


def event_kind(event_id: str, user_uid: str, verb: str, obj: str) -> str:
    """Return the ``VERBS`` key of an event: a claim of a decision verb is ``reported-*``."""
    if verb in protocol.DECISION_VERBS and not protocol.is_decision(event_id, user_uid, obj, verb):
        return f"reported-{verb}"
    return verb


def verb_json(kind: str, base: str) -> dict[str, Any]:
    """Return the xAPI verb of an event kind (Kru's own IRI for a kind not in ``VERBS``)."""
    verb = VERBS.get(kind) or Verb(kind, kind, kind)
    iri = verb.iri if ":" in verb.iri else f"{base}/xapi/verbs/{quote(verb.iri, safe='')}"
    return {"id": iri, "display": {"en-US": verb.en, "km": verb.km}}


def activity_id(base: str, kind: str, key: str) -> str:
    """Return the IRL of an item or course ``key`` under the public URL."""
    return f"{base}/xapi/activities/{kind}/{quote(key, safe='/')}"


def _names(km: str | None, en: str | None, fallback: str) -> dict[str, str]:
    names = {k: v for k, v in (("km", km), ("en", en)) if v}
    return names or {"en": fallback}


def duration(seconds: float) -> str:
    """Return ``seconds`` as an ISO 8601 duration (``PT1H2M3.5S``)."""
    hundredths = int(round(max(seconds, 0.0) * 100))
    hours, rest = divmod(hundredths, 360_000)
    minutes, rest = divmod(rest, 6000)
    secs = f"{rest // 100}" if rest % 100 == 0 else f"{rest / 100:.2f}".rstrip("0")
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{secs}S" if rest or not (hours or minutes) else "")


def _number(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) else None


def result_json(kind: str, result: Any, base: str) -> dict[str, Any] | None:
    """Return the xAPI result of an event's Kru ``result`` (None when there is nothing)."""
    r = result if isinstance(result, dict) else {}
    out: dict[str, Any] = {}
    score = _number(r.get("score"))
    if score is not None and 0.0 <= score <= 1.0:
        out["score"] = {"scaled": score}
    success = r.get("success")
    verb = kind.removeprefix("reported-")
    if isinstance(success, bool):
        out["success"] = success
    elif verb in ("passed", "failed"):
        out["success"] = verb == "passed"
    completion = _number(r.get("completion"))
    if verb in ("completed", "passed"):
        out["completion"] = True
    elif completion is not None and kind != "attempted":
        out["completion"] = completion >= 1.0
    seconds = _number(r.get("duration_s"))
    if seconds is not None and seconds >= 0:
        out["duration"] = duration(seconds)
    extensions = {
        f"{base}/xapi/extensions/{name.replace('_', '-')}": r[name]
        for name in RESULT_EXTENSIONS
        if r.get(name) is not None
    }
    if completion is not None:
        extensions[f"{base}/xapi/extensions/completion"] = completion
    criteria = (r.get("extensions") or {}) if isinstance(r.get("extensions"), dict) else {}
    if isinstance(criteria.get(protocol.CRITERIA_EXTENSION), list):
        # A rubric's levels per criterion and competency (reviews, observations: issue 15).
        extensions[protocol.CRITERIA_EXTENSION] = criteria[protocol.CRITERIA_EXTENSION]
    if extensions:
        out["extensions"] = extensions
    return out or None


@dataclass
class EventRow:
    """One stored event and what the export needs about it (see ``load_rows``)."""

    pk: int
    event_id: str
    verb: str
    obj: str
    result: Any
    context: Any
    corrected_ms: int
    user_uid: str
    device_id: str
    site_name: str
    province: str
    display_name: str | None
    title_km: str | None
    title_en: str | None
    item_type: str | None
    course_key: str | None
    course_title_km: str | None
    course_title_en: str | None
    cohorts: tuple[tuple[str, str], ...] = ()  # (uid, name) of the learner's cohorts


def statement(row: EventRow, base: str, *, names: bool = False) -> dict[str, Any]:
    """Return the xAPI 1.0.3 statement of one event (``base`` from ``base_url``)."""
    kind = event_kind(row.event_id, row.user_uid, row.verb, row.obj)
    actor: dict[str, Any] = {
        "objectType": "Agent",
        "account": {"homePage": base, "name": row.user_uid},
    }
    if names and row.display_name:
        actor["name"] = row.display_name
    definition: dict[str, Any] = {"name": _names(row.title_km, row.title_en, row.obj)}
    if row.item_type in ACTIVITY_TYPES:
        definition["type"] = ADL_ACTIVITY + ACTIVITY_TYPES[row.item_type]
    elif row.item_type:
        definition["type"] = f"{base}/xapi/activity-types/{quote(row.item_type, safe='')}"
    ext = f"{base}/xapi/extensions/"
    kru_context = row.context if isinstance(row.context, dict) else {}
    extensions: dict[str, Any] = {
        ext + "site": {"id": row.device_id, "name": row.site_name, "province": row.province},
        ext + "cohorts": [{"id": uid, "name": name} for uid, name in row.cohorts],
    }
    if kru_context.get("decided_by"):
        extensions[ext + "decided-by"] = kru_context["decided_by"]
    if isinstance(kru_context.get("attempt"), int):
        extensions[ext + "attempt"] = kru_context["attempt"]
    context: dict[str, Any] = {
        "registration": str(
            uuid.uuid5(
                REGISTRATION_NAMESPACE, f"{row.device_id}\n{row.user_uid}\n{row.course_key or ''}"
            )
        ),
        "platform": "Kru",
        "extensions": extensions,
    }
    if row.course_key:
        context["contextActivities"] = {
            "parent": [
                {
                    "objectType": "Activity",
                    "id": activity_id(base, "courses", row.course_key),
                    "definition": {
                        "name": _names(row.course_title_km, row.course_title_en, row.course_key),
                        "type": ADL_ACTIVITY + "course",
                    },
                }
            ]
        }
    out: dict[str, Any] = {
        "id": row.event_id,
        "actor": actor,
        "verb": verb_json(kind, base),
        "object": {
            "objectType": "Activity",
            "id": activity_id(base, "items", row.obj),
            "definition": definition,
        },
        "context": context,
        "timestamp": ms_to_ts(row.corrected_ms),
    }
    result = result_json(kind, row.result, base)
    if result:
        out["result"] = result
    return out


_ROWS_SQL = (
    "SELECT e.id, e.event_id, e.verb, e.object, e.result, e.context, e.corrected_ms, "
    "e.user_uid, d.device_id, d.name, d.province, p.display_name, i.title_km, i.title_en, "
    "i.type, i.course_key, i.course_title_km, i.course_title_en, e.device_id "
    "FROM central_events e JOIN devices d ON d.id = e.device_id "
    "LEFT JOIN people p ON p.device_id = e.device_id AND p.uid = e.user_uid "
    "LEFT JOIN device_items i ON i.device_id = e.device_id AND i.key = e.object "
)


def _sql(query: str, params: tuple | list = ()) -> list[tuple]:
    return list(database.execute_sql(query.replace("?", database.param), params).fetchall())


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def load_rows(*, after: int = 0, limit: int = 100, ids: list[str] | None = None) -> list[EventRow]:
    """Return stored events as ``EventRow``: after row ``after`` in order, or by event ids."""
    if ids is not None:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        raw = _sql(_ROWS_SQL + f"WHERE e.event_id IN ({marks}) ORDER BY e.id", ids)
    else:
        raw = _sql(_ROWS_SQL + "WHERE e.id > ? ORDER BY e.id LIMIT ?", (after, limit))
    wanted = {(r[18], r[7]) for r in raw}
    cohorts: dict[tuple[int, str], list[tuple[str, str]]] = {}
    if wanted:
        devices = sorted({d for d, _u in wanted})
        marks = ",".join("?" * len(devices))
        for dev, member, uid, name in _sql(
            "SELECT c.device_id, m.person_uid, c.uid, c.name FROM site_cohorts c "  # noqa: S608
            "JOIN site_cohort_members m ON m.cohort_id = c.id "
            f"WHERE c.device_id IN ({marks}) ORDER BY c.name, c.uid",
            devices,
        ):
            if (dev, member) in wanted:
                cohorts.setdefault((dev, member), []).append((uid, name))
    return [
        EventRow(
            pk=r[0],
            event_id=r[1],
            verb=r[2],
            obj=r[3],
            result=_loads(r[4]),
            context=_loads(r[5]),
            corrected_ms=r[6],
            user_uid=r[7],
            device_id=r[8],
            site_name=r[9],
            province=r[10],
            display_name=r[11],
            title_km=r[12],
            title_en=r[13],
            item_type=r[14],
            course_key=r[15],
            course_title_km=r[16],
            course_title_en=r[17],
            cohorts=tuple(cohorts.get((r[18], r[7]), ())),
        )
        for r in raw
    ]


def statements_page(
    after: int, limit: int, public_url: str, *, names: bool = False
) -> dict[str, Any]:
    """Return up to ``limit`` statements of events after row ``after``, and the next cursor.

    Raises:
        ExportNotConfigured: ``central.public_url`` is not set.
    """
    base = base_url(public_url)
    rows = load_rows(after=after, limit=limit)
    return {
        "statements": [statement(r, base, names=names) for r in rows],
        "next_after": rows[-1].pk if len(rows) == limit else None,
    }
