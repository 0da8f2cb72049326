"""Completion rules, per-learner per-item summaries, and rebuilding them from the event log.

One pure function, ``apply_event``, folds an event into a summary; event ingest calls it
in the batch's transaction and ``rebuild`` replays the whole log through it, so both give
the same rows. The rules are written for instructors in docs/progress-rules.md.

Each status the rules give (completed, passed, failed) is also written to the log as a
**decision** event with an id derived from learner, item and status
(``sync.protocol.decision_id``), in the transaction that changes the summary. The central
server counts those decisions and never applies rules of its own, so the site and the
ministry see the same figures. ``rebuild`` honours decisions already in the log and appends
any it finds missing (a log from before decisions, or rules that changed).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from operator import attrgetter
from typing import Any, TypeVar

from content_packs.catalog import item_facts
from sync.protocol import DECISION_VERBS, decision_id, is_decision

from ..accounts.models import User
from ..base.db import db
from .models import DONE, Event, Progress, QuizAnswer

log = logging.getLogger(__name__)

T = TypeVar("T")

# Share of a video or audio a learner must have played for it to count as completed.
MEDIA_DONE = 0.9
MEDIA_TYPES = ("video", "audio")
OPENED_IS_DONE = ("pdf", "image")  # opening one is all a server can know
# Longest time one event may add; a phone asleep for hours must not count as study.
MAX_DURATION_S = 3600
# Statuses only move up this order (a pass is never undone), so a decision already in the log
# can be honoured by raising the status to it.
RANK = {"in_progress": 0, "failed": 1, "completed": 2, "passed": 3}
# The columns of an events row, in the order of the values ``decision_row`` and ingest make.
INSERT_EVENT = (
    "INSERT OR IGNORE INTO events "
    "(id, user_id, verb, object, result, context, client_ts, server_ts, boot_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


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

    if kind == "task":
        return _apply_task(s, verb, r, server_ts)

    if kind == "observation":
        # A practicum observation is evidence a mentor records (edge_server/tasks/observations),
        # not an item to pass: it keeps the status it has (docs/progress-rules.md).
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


def _apply_task(s: Summary, verb: str, r: dict[str, Any], server_ts: str) -> Summary:
    """Fold a task's events: only an instructor's review decides (docs/progress-rules.md).

    ``submitted`` counts an attempt; ``reviewed`` with decision ``accepted`` passes when the
    rubric score reached the pass mark (``success``, set by the Pi) and fails otherwise;
    ``returned`` leaves the status as it was (the learner revises and submits again).
    """
    if verb == "submitted":
        s.attempts += 1
    elif verb == "reviewed" and r.get("decision") == "accepted":
        if isinstance(r.get("score"), int | float):
            s.score = r["score"] if s.score is None else max(s.score, r["score"])
        if r.get("success") is True:
            if s.status != "passed":
                s.done_ts = server_ts
            s.status, s.completion = "passed", 1.0
        elif s.status != "passed":
            s.status = "failed"
    return s


def decided(before: str | None, after: str) -> str | None:
    """Return the status just decided when a summary went from ``before`` to ``after``."""
    return after if after in DECISION_VERBS and after != before else None


def apply_decision(
    summary: Summary | None, user_id: int, verb: str, item: str, server_ts: str
) -> Summary:
    """Return ``summary`` with a decision from the log honoured: the site's word stands."""
    s = summary or Summary.start(user_id, item, server_ts)
    if RANK[verb] > RANK.get(s.status, 0):
        if verb in DONE:
            s.done_ts = server_ts
        if verb == "passed":
            s.completion = 1.0
        s.status = verb
    return s


def decision_row(user_uid: str, s: Summary, decision: str, server_ts: str, boot: str) -> tuple:
    """Return the events row recording ``decision`` on ``s`` (values of ``INSERT_EVENT``).

    It follows the event that met the rule in the log (same time and boot). The context
    names no cause: a decision is sent to the ministry over prepaid SIMs, and an event id
    is the costliest thing on the wire.
    """
    result = {"score": s.score} if s.score is not None else None
    return (
        decision_id(user_uid, s.item, decision),
        s.user_id,
        decision,
        s.item,
        json.dumps(result) if result is not None else None,
        json.dumps({"decided_by": "site"}),
        None,
        server_ts,
        boot,
    )


def item_info(item_type: str, data: str | None) -> ItemInfo:
    """Return the rule inputs of an item row (``data`` is only needed for quizzes)."""
    if item_type != "quiz" or not data:
        return ItemInfo(item_type)
    from . import quiz

    definition = quiz.definition(json.loads(data))
    return ItemInfo(item_type, quiz.pass_mark(definition), quiz.attempt_limit(definition))


def load_item_infos(keys: Iterable[str] | None = None) -> dict[str, ItemInfo]:
    """Return ItemInfo by item key, for ``keys`` or for every item."""
    return {key: item_info(facts.type, facts.quiz) for key, facts in item_facts(keys).items()}


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
        Event.boot_id,
    )
    # Attendance and certificate events (issue 16) name no item: no progress summary.
    query = query.where(~Event.object.startswith("urn:")).order_by(Event.seq)
    yield from query.tuples().iterator()


@dataclass
class Replay:
    """Summaries, graded answers and missing decisions folded from the whole log."""

    events: int
    summaries: dict[tuple[int, str], Summary]
    answers: list[dict[str, Any]]
    missing: list[tuple]


def replay() -> Replay:
    """Fold the whole event log by the rules; list the decisions the log lacks."""
    infos = load_item_infos()
    uids: dict[int, str] = dict(User.select(User.id, User.uid).tuples().iterator())
    in_log = {
        row[0]
        for row in db.execute_sql(
            f"SELECT id FROM events WHERE verb IN ({','.join('?' * len(DECISION_VERBS))})",  # noqa: S608
            DECISION_VERBS,
        )
    }
    out = Replay(0, {}, [], [])
    for event_id, user_id, verb, item, result, context, server_ts, boot in _log_rows():
        out.events += 1
        key = (user_id, item)
        uid = uids.get(user_id, "")
        before = out.summaries.get(key)
        if is_decision(event_id, uid, item, verb):
            out.summaries[key] = apply_decision(before, user_id, verb, item, server_ts)
            continue
        status = before.status if before else None
        r = json.loads(result) if result else None
        s = out.summaries[key] = apply_event(
            before, user_id, verb, item, r, server_ts, infos.get(item)
        )
        made = decided(status, s.status)
        if made and decision_id(uid, item, made) not in in_log:
            out.missing.append(decision_row(uid, s, made, server_ts, boot))
            in_log.add(decision_id(uid, item, made))
        if verb == "attempted" and context:
            out.answers.extend(
                answer_rows(event_id, user_id, item, json.loads(context), (r or {}).get("response"))
            )
    return out


def record_missing_decisions() -> int:
    """Append to the log the decisions it lacks (a log from before decisions); return how many."""
    with db.atomic("IMMEDIATE"):
        missing = replay().missing
        db.cursor().executemany(INSERT_EVENT, missing)
    log.info("recorded %s missing decisions", len(missing))
    return len(missing)


def rebuild() -> dict[str, int]:
    """Recompute every progress summary and graded answer from the event log.

    Runs in one transaction; decisions the log lacks are appended to it. Returns counts of
    events read, rows written and decisions added.
    """
    with db.atomic("IMMEDIATE"):
        folded = replay()
        Progress.delete().execute()
        QuizAnswer.delete().execute()
        values = list(folded.summaries.values())
        for start in range(0, len(values), 500):
            save_summaries(values[start : start + 500])
        for start in range(0, len(folded.answers), 500):
            QuizAnswer.insert_many(folded.answers[start : start + 500]).execute()
        db.cursor().executemany(INSERT_EVENT, folded.missing)
    log.info(
        "rebuilt %s summaries from %s events, %s decisions added",
        len(values),
        folded.events,
        len(folded.missing),
    )
    return {
        "events": folded.events,
        "summaries": len(values),
        "answers": len(folded.answers),
        "decisions": len(folded.missing),
    }


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


# --- courses: which items count, when one is done (docs/progress-rules.md, "Courses") -------


def is_done(status: str) -> bool:
    """Return whether an item with ``status`` is done: completed or passed."""
    return status in DONE


def counted_items(items: Sequence[T], required: Callable[[T], bool]) -> Sequence[T]:
    """Return the items that decide a course: its required ones, or all when none is required."""
    return [item for item in items if required(item)] or items


def percent(done: int, total: int) -> int:
    """Return ``done`` of ``total`` as a whole percentage, rounded down (0 for no items)."""
    return int(100 * done / total) if total else 0
