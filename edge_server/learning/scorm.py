"""SCORM run-time data of a learner: kept on the Pi for resuming, turned into Kru events.

A SCORM activity is an html5 item made by ``kru pack import`` (``data["scorm"]`` is "1.2"
or "2004"). Its SCO talks to scorm-again inside the sandbox; the item page posts what the
SCO set (``save``). Kru keeps the elements a learner needs to resume (location,
suspend_data, statuses, score, total time) in ``scorm_state``, and records what counts as
events made on the Pi: ``completed``, ``passed`` or ``failed`` with the score from 0 to 1,
and the session time as ``progressed`` with ``duration_s`` when the SCO finishes.
``start`` gives the SCO its saved data back (docs/content-packs.md, "The SCORM bridge").
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from ..accounts.models import User
from ..base.db import db
from ..base.errors import N_, ValidationError
from . import courses, events
from .events import CleanEvent, now_ts

VERSIONS = ("1.2", "2004")
KEEP = {
    "1.2": (
        "core.lesson_location",
        "core.lesson_status",
        "core.score.raw",
        "core.score.min",
        "core.score.max",
        "core.total_time",
        "core.exit",
        "core.session_time",
        "suspend_data",
    ),
    "2004": (
        "location",
        "completion_status",
        "success_status",
        "score.scaled",
        "score.raw",
        "score.min",
        "score.max",
        "progress_measure",
        "total_time",
        "exit",
        "session_time",
        "suspend_data",
    ),
}
# What the SCORM data models allow (1.2: 4,096 characters of suspend_data; 2004: 64,000).
MAX_SUSPEND = {"1.2": 4096, "2004": 64000}
MAX_VALUE = 1000
SESSION_ONLY = ("core.exit", "core.session_time", "exit", "session_time")
SCORM_NAMESPACE = uuid.UUID("0f4c6a52-5d3e-4e8a-9a7e-2b1c9d7e6a18")
_TIME_12 = re.compile(r"^(\d{1,4}):(\d{1,2}):(\d{1,2}(?:\.\d{1,2})?)$")
_TIME_2004 = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


class BadScormData(ValidationError):
    code = "invalid_scorm_data"


def _get(tree: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(tree, dict):
            return None
        tree = tree.get(part)
    return tree


def _flat(cmi: Any, version: str) -> dict[str, str]:
    """Return the kept elements of a posted ``cmi`` object, as strings.

    Raises:
        BadScormData: ``cmi`` is not an object, or a kept element is too long or not text.
    """
    if not isinstance(cmi, dict):
        raise BadScormData(N_("cmi must be an object"))
    out: dict[str, str] = {}
    for path in KEEP[version]:
        value = _get(cmi, path)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadScormData(N_("cmi.%(element)s must be text"), element=path)
        text = str(value)
        limit = MAX_SUSPEND[version] if path == "suspend_data" else MAX_VALUE
        if len(text) > limit:
            raise BadScormData(
                N_("cmi.%(element)s is longer than %(limit)s characters"),
                element=path,
                limit=limit,
            )
        out[path] = text
    return out


def seconds(version: str, text: str) -> float | None:
    """Return a SCORM time span (1.2 ``HHHH:MM:SS.SS``, 2004 ``PT1H2M3S``) in seconds."""
    if version == "1.2":
        match = _TIME_12.match(text.strip())
        if not match:
            return None
        return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])
    match = _TIME_2004.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        return None
    y, mo, d, h, mi, s = (float(g) if g else 0.0 for g in match.groups())
    return ((y * 365 + mo * 30 + d) * 24 + h) * 3600 + mi * 60 + s


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def score(version: str, state: dict[str, str]) -> float | None:
    """Return the score from 0 to 1: 2004's scaled score, else raw within min and max."""
    if version == "2004" and (scaled := _number(state.get("score.scaled"))) is not None:
        return min(max(scaled, 0.0), 1.0)
    prefix = "core.score." if version == "1.2" else "score."
    raw = _number(state.get(prefix + "raw"))
    if raw is None:
        return None
    low = _number(state.get(prefix + "min"))
    high = _number(state.get(prefix + "max"))
    low = 0.0 if low is None else low
    high = 100.0 if high is None else high
    if high <= low:
        return None
    return round(min(max((raw - low) / (high - low), 0.0), 1.0), 4)


def outcome(version: str, state: dict[str, str]) -> str | None:
    """Return the Kru verb the SCO's statuses amount to (passed, failed, completed), if any."""
    if version == "1.2":
        status = state.get("core.lesson_status", "")
        return status if status in ("passed", "failed", "completed") else None
    success = state.get("success_status", "")
    if success in ("passed", "failed"):
        return success
    return "completed" if state.get("completion_status") == "completed" else None


def load(user_id: int, item_key: str) -> dict[str, str]:
    row = db.execute_sql(
        "SELECT data FROM scorm_state WHERE user_id = ? AND item = ?", [user_id, item_key]
    ).fetchone()
    return json.loads(row[0]) if row else {}


def _check_item(user: User, item_key: str, version: Any) -> str:
    page = courses.item_page(user, item_key, "km")
    kind = page.data.get("scorm")
    if page.item.type != "html5" or kind not in VERSIONS:
        raise BadScormData(N_("%(item)s is not a SCORM activity"), item=item_key)
    if version != kind:
        raise BadScormData(
            N_("%(item)s is a SCORM %(version)s activity"), item=item_key, version=kind
        )
    return kind


def _event(user: User, item_key: str, verb: str, session: str, result: dict[str, Any]):
    name = f"scorm|{user.uid}|{item_key}|{session}|{verb}|{json.dumps(result, sort_keys=True)}"
    return CleanEvent(
        0, str(uuid.uuid5(SCORM_NAMESPACE, name)), verb, item_key, result, {"scorm": True}, now_ts()
    )


def save(user: User, item_key: str, body: Any) -> dict[str, Any]:
    """Keep what a SCO set for ``user`` and record what it amounts to as events.

    ``body`` is ``{"version", "session", "finished", "cmi"}`` as the item page posts it.
    Posting the same data again changes nothing (the events' ids are derived from it).

    Raises:
        ItemNotFound: no such item for ``user``.
        BadScormData: the body is malformed or the item is not a SCORM activity.
    """
    if not isinstance(body, dict):
        raise BadScormData(N_('Send JSON {"version", "session", "finished", "cmi"}'))
    version = _check_item(user, item_key, body.get("version"))
    session = str(body.get("session") or "")[:64]
    state = load(user.id, item_key) | _flat(body.get("cmi"), version)
    db.execute_sql(
        "INSERT OR REPLACE INTO scorm_state (user_id, item, version, data, updated) "
        "VALUES (?, ?, ?, ?, ?)",
        [user.id, item_key, version, json.dumps(state, ensure_ascii=False), now_ts()],
    )
    made: list[CleanEvent] = []
    verb, points = outcome(version, state), score(version, state)
    if verb is not None:
        made.append(
            _event(user, item_key, verb, session, {} if points is None else {"score": points})
        )
    spent = state.get("core.session_time" if version == "1.2" else "session_time")
    if body.get("finished") is True and spent:
        span = seconds(version, spent)
        if span:
            result = {"duration_s": min(span, events.MAX_SECONDS)}
            made.append(_event(user, item_key, "progressed", session, result))
    if made:
        events.ingest(user, made)
    return {"status": verb, "score": points}


def start(user: User, item_key: str, version: str) -> dict[str, Any]:
    """Return the data a SCO starts with: the learner, and what was kept at the last visit."""
    state = load(user.id, item_key)
    entry = "resume" if state.get("core.exit" if version == "1.2" else "exit") == "suspend" else ""
    name = user.display_name or user.username
    cmi: dict[str, Any] = (
        {"core": {"student_id": str(user.id), "student_name": name, "entry": entry}}
        if version == "1.2"
        else {"learner_id": str(user.id), "learner_name": name, "entry": entry}
    )
    for path, value in state.items():
        if path in SESSION_ONLY:
            continue
        *parents, last = path.split(".")
        target = cmi
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return {"cmi": cmi}
