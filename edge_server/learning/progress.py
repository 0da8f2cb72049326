"""Completion rules, per-learner per-item summaries, and rebuilding them from the event log.

One pure function, ``apply_event``, folds an event into a summary; event ingest calls it
in the batch's transaction and ``rebuild`` replays the whole log through it, so both give
the same rows. The rules are written for instructors in docs/progress-rules.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from operator import attrgetter
from typing import Any

from ..db import db
from ..learning_models import Event
from .models import DONE, Progress, QuizAnswer

log = logging.getLogger(__name__)

# Share of a video or audio a learner must have played for it to count as completed.
MEDIA_DONE = 0.9
MEDIA_TYPES = ("video", "audio")
OPENED_IS_DONE = ("pdf", "image")  # opening one is all a server can know
# Longest time one event may add; a phone asleep for hours must not count as study.
MAX_DURATION_S = 3600


@dataclass
class ItemInfo:
    """What the rules need to know about an item."""

    type: str
    pass_mark: float | None = None
    attempts: int | None = None


@dataclass
class Summary:
    user_id: int
    item: str
    status: str
    score: float | None
    completion: float
    time_s: int
    position_s: float | None
    attempts: int
    first_ts: str
    last_ts: str
    done_ts: str | None

    @classmethod
    def start(cls, user_id: int, item: str, ts: str) -> Summary:
        return cls(user_id, item, "in_progress", None, 0.0, 0, None, 0, ts, ts, None)

    def row(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS = [f.name for f in fields(Summary)]
_summary_values = attrgetter(*COLUMNS)
# Raw SQL: peewee built this upsert's SQL value by value, a large share of event ingest's CPU.
_SAVE_SUMMARY = (
    f"INSERT INTO progress ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "  # noqa: S608 - constants
    "ON CONFLICT (user_id, item) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[2:])
)


def apply_event(
    summary: Summary | None,
    user_id: int,
    verb: str,
    item: str,
    result: dict[str, Any] | None,
    server_ts: str,
    info: ItemInfo | None,
) -> Summary:
    """Return ``summary`` (None: no row yet) updated by one event, by the completion rules."""
    s = summary or Summary.start(user_id, item, server_ts)
    r = result or {}
    kind = info.type if info else "unknown"
    s.last_ts = server_ts
    duration = r.get("duration_s")
    if isinstance(duration, int | float) and duration > 0:
        s.time_s += int(round(min(duration, MAX_DURATION_S)))
    if isinstance(r.get("position_s"), int | float):
        s.position_s = float(r["position_s"])
    completion = r.get("completion")
    if isinstance(completion, int | float):
        s.completion = max(s.completion, min(float(completion), 1.0))

    if kind == "quiz":
        # Only server-graded attempts decide a quiz; passed/failed events are their echo.
        if verb == "attempted":
            s.attempts += 1
            score = r.get("score")
            if isinstance(score, int | float):
                s.score = score if s.score is None else max(s.score, score)
            if r.get("success") is True:
                if s.status != "passed":
                    s.done_ts = server_ts
                s.status = "passed"
                s.completion = 1.0
            elif s.status != "passed":
                s.status = "failed"
        return s

    if verb in ("passed", "failed"):  # html5 apps reporting their own result
        if isinstance(r.get("score"), int | float):
            s.score = r["score"] if s.score is None else max(s.score, r["score"])
        if verb == "passed" and s.status != "passed":
            s.status, s.done_ts, s.completion = "passed", server_ts, 1.0
        elif verb == "failed" and s.status not in DONE:
            s.status = "failed"
        return s
    if verb == "completed" and not isinstance(completion, int | float):
        s.completion = 1.0
    if verb == "viewed" and kind in OPENED_IS_DONE:
        s.completion = 1.0
    threshold = MEDIA_DONE if kind in MEDIA_TYPES else 1.0
    if s.status not in DONE and s.completion >= threshold:
        s.status, s.done_ts = "completed", server_ts
    return s


def item_info(item_type: str, data: str | None) -> ItemInfo:
    """Return the rule inputs of an item row (``data`` is only needed for quizzes)."""
    if item_type != "quiz" or not data:
        return ItemInfo(item_type)
    from . import quiz

    definition = quiz.definition(json.loads(data))
    return ItemInfo(item_type, quiz.pass_mark(definition), quiz.attempt_limit(definition))


def load_item_infos(keys: Iterable[str] | None = None) -> dict[str, ItemInfo]:
    """Return ItemInfo by item key, for ``keys`` or for every item."""
    sql = "SELECT key, type, CASE WHEN type = 'quiz' THEN data END FROM items"
    params: list[str] = []
    if keys is not None:
        params = sorted(set(keys))
        if not params:
            return {}
        sql += f" WHERE key IN ({','.join('?' * len(params))})"
    return {k: item_info(t, d) for k, t, d in db.execute_sql(sql, params)}


def load_summaries(user_id: int, items: Iterable[str]) -> dict[str, Summary]:
    """Return the summaries of ``user_id`` for ``items``, by item key."""
    keys = sorted(set(items))
    if not keys:
        return {}
    rows = (
        Progress.select()
        .where((Progress.user_id == user_id) & (Progress.item.in_(keys)))
        .dicts()
        .iterator()
    )
    return {row["item"]: Summary(**row) for row in rows}


def save_summaries(summaries: Iterable[Summary]) -> None:
    """Insert or replace summary rows with one prepared statement."""
    rows = [_summary_values(s) for s in summaries]
    if rows:
        db.cursor().executemany(_SAVE_SUMMARY, rows)


def answer_rows(
    event_id: str,
    user_id: int,
    item: str,
    context: dict[str, Any] | None,
    response: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Return quiz_answers rows of one graded attempt (its context holds the grading)."""
    graded = (context or {}).get("graded")
    if not isinstance(graded, dict):
        return []
    answers = response or {}
    return [
        {
            "event_id": event_id,
            "user_id": user_id,
            "item": item,
            "attempt": int((context or {}).get("attempt") or 0),
            "question": qid,
            "response": json.dumps(answers.get(qid), ensure_ascii=False),
            "correct": bool(ok),
        }
        for qid, ok in graded.items()
    ]


def _log_rows() -> Iterator[tuple]:
    query = Event.select(
        Event.id,
        Event.user,
        Event.verb,
        Event.object,
        Event.result,
        Event.context,
        Event.server_ts,
    )
    # Attendance and certificate events (issue 16) name no item: no progress summary.
    query = query.where(~Event.object.startswith("urn:")).order_by(Event.seq)
    yield from query.tuples().iterator()


def rebuild() -> dict[str, int]:
    """Recompute every progress summary and graded answer from the event log.

    Runs in one transaction; returns counts of events read and rows written.
    """
    infos = load_item_infos()
    summaries: dict[tuple[int, str], Summary] = {}
    answers: list[dict[str, Any]] = []
    events = 0
    with db.atomic("IMMEDIATE"):
        for event_id, user_id, verb, item, result, context, server_ts in _log_rows():
            events += 1
            r = json.loads(result) if result else None
            key = (user_id, item)
            info = infos.get(item)
            summaries[key] = apply_event(
                summaries.get(key), user_id, verb, item, r, server_ts, info
            )
            if verb == "attempted" and context:
                answers.extend(
                    answer_rows(
                        event_id, user_id, item, json.loads(context), (r or {}).get("response")
                    )
                )
        Progress.delete().execute()
        QuizAnswer.delete().execute()
        values = list(summaries.values())
        for start in range(0, len(values), 500):
            save_summaries(values[start : start + 500])
        for start in range(0, len(answers), 500):
            QuizAnswer.insert_many(answers[start : start + 500]).execute()
    log.info("rebuilt %s summaries from %s events", len(summaries), events)
    return {"events": events, "summaries": len(summaries), "answers": len(answers)}


def snapshot() -> list[tuple]:
    """Return every summary and graded answer as sorted tuples (to compare two states)."""
    query = Progress.select().order_by(Progress.user_id, Progress.item)
    rows = [tuple(r) for r in query.tuples().iterator()]
    rows += [
        ("answer", *r)
        for r in QuizAnswer.select(
            QuizAnswer.event_id,
            QuizAnswer.user_id,
            QuizAnswer.item,
            QuizAnswer.attempt,
            QuizAnswer.question,
            QuizAnswer.response,
            QuizAnswer.correct,
        )
        .order_by(QuizAnswer.event_id, QuizAnswer.question)
        .tuples()
        .iterator()
    ]
    return rows
