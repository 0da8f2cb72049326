"""Gather the evidence of learners' competencies from what the site already keeps.

- An item naming competencies (``competencies`` in the pack) gives evidence once the rules
  decided it: its best score when it has one (quiz, task, activity), else "studied".
- A rubric criterion naming a competency gives evidence from the latest task review
  (``reviewed``) or practicum observation (``observed``) of that item for the learner: the
  criteria results the event lists under ``result.extensions[CRITERIA]`` (points of the chosen
  level over the criterion's highest), the shape agreed with the practicum feature.

Nothing here writes; ``profiles`` decides levels from this.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from content_packs.catalog import CompetencyData
from content_packs.frameworks import prefix
from sync.protocol import CRITERIA_EXTENSION as CRITERIA

from ..learning.models import Event, Progress
from .rules import OBSERVATION, REVIEW, SCORED, STUDIED, Evidence

RATED_VERBS = {"reviewed": REVIEW, "observed": OBSERVATION}
DECIDED = ("completed", "passed", "failed")

# user id -> standard code -> evidence, oldest first
Evidences = dict[int, dict[str, list[Evidence]]]


def _number(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) else None


def criteria_of(result: Any) -> list[dict[str, Any]]:
    """Return the criteria results an event's result lists (empty when it lists none)."""
    ext = result.get("extensions") if isinstance(result, dict) else None
    found = ext.get(CRITERIA) if isinstance(ext, dict) else None
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def gather(user_ids: Iterable[int], data: CompetencyData) -> Evidences:
    """Return the evidence of each learner of ``user_ids`` by standard (two queries)."""
    ids = sorted(set(user_ids))
    out: Evidences = {uid: {} for uid in ids}
    if not ids or not data.frameworks:
        return out

    def add(uid: int, ev: Evidence) -> None:
        fw = data.frameworks.get(prefix(ev.code))
        found = fw.competency_of(ev.code) if fw else None
        if found is not None:  # a code of a framework no longer installed names nothing
            out[uid].setdefault(found.code, []).append(ev)

    if data.item_codes:
        rows = (
            Progress.select(
                Progress.user_id, Progress.item, Progress.score, Progress.done_ts, Progress.last_ts
            )
            .where(
                Progress.user_id.in_(ids)
                & Progress.item.in_(list(data.item_codes))
                & Progress.status.in_(DECIDED)
            )
            .order_by(Progress.last_ts)
            .tuples()
        )
        for uid, item, score, done_ts, last_ts in rows.iterator():
            share = _number(score)
            kind = STUDIED if share is None else SCORED
            for code in data.item_codes.get(item, ()):
                add(uid, Evidence(code, kind, item, share, done_ts or last_ts))
    latest: dict[tuple[int, str, str], tuple[str, str]] = {}
    events = (
        Event.select(Event.user, Event.verb, Event.object, Event.result, Event.server_ts)
        .where(Event.user.in_(ids) & Event.verb.in_(list(RATED_VERBS)))
        .order_by(Event.seq)
        .tuples()
    )
    for uid, verb, obj, result, ts in events.iterator():
        latest[(uid, verb, obj)] = (result or "{}", ts)
    for (uid, verb, obj), (result, ts) in sorted(latest.items(), key=lambda kv: kv[1][1]):
        for c in criteria_of(json.loads(result)):
            named, level, top = c.get("competency"), _number(c.get("level")), _number(c.get("max"))
            if not isinstance(named, str) or level is None or not top or top <= 0:
                continue
            share = round(min(max(level / top, 0.0), 1.0), 4)
            add(
                uid,
                Evidence(
                    named,
                    RATED_VERBS[verb],
                    obj,
                    share,
                    ts,
                    str(c.get("criterion") or ""),
                    level,
                    top,
                ),
            )
    return out
