"""Validation and ingest of learning event batches (``POST /api/v1/events``).

A batch is all or nothing: one bad event rejects the batch, naming its index. Good
batches are stored in one transaction with their progress summaries: duplicates (an id
already in the log, or twice in the batch) are counted and change nothing. Quiz attempts
are graded here from the quiz definition; the client's score is never trusted.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from content_packs.catalog import ItemFacts, item_facts
from sync.protocol import MAX_CONTEXT_CHARS, json_size

from ..accounts.models import User
from ..base.db import db
from ..base.errors import N_, KruError, ValidationError
from ..system import clock_epoch
from . import quiz as quizzes
from .courses import assigned_course_keys
from .group_commit import GroupCommit
from .models import Event, QuizAnswer
from .progress import (
    INSERT_EVENT,
    ItemInfo,
    Summary,
    answer_rows,
    apply_event,
    decided,
    decision_row,
    load_summaries,
    save_summaries,
)

log = logging.getLogger(__name__)

VERBS = ("viewed", "progressed", "completed", "answered", "attempted", "passed", "failed")
RESULT_KEYS = ("score", "completion", "duration_s", "response", "position_s")
MAX_BATCH = 200
MAX_JSON = 20_000  # characters of one event's result as JSON text
MAX_SECONDS = 86_400.0
# Server-made events (quiz outcomes) get ids derived from the attempt, so a resend
# of the attempt makes no second outcome.
OUTCOME_NAMESPACE = uuid.UUID("0b9f6b8e-4f1e-4a5e-9c55-6b7275000004")


class InvalidEvent(ValidationError):
    """An event of a batch is not valid; ``details["index"]`` names it."""

    code = "invalid_event"

    def __init__(self, index: int, message: str, *, code: str | None = None, **params: Any):
        super().__init__(
            N_("Event %(index)s: ") + message,
            code=code,
            details={"index": index},
            index=index,
            **params,
        )
        self.index = index

    def localized(self, gettext) -> str:
        """Translate the prefix and the reason separately (they are two catalog entries)."""
        prefix = gettext(N_("Event %(index)s: ")) % {"index": self.index}
        return prefix + gettext(self.template[len(N_("Event %(index)s: ")) :]) % self.params


class AttemptsExhausted(InvalidEvent):
    code = "attempts_exhausted"
    status = 409


class InvalidBatch(ValidationError):
    code = "invalid_batch"


@dataclass
class CleanEvent:
    index: int
    id: str
    verb: str
    object: str
    result: dict[str, Any] | None
    context: dict[str, Any] | None
    client_ts: str | None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    graded: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"accepted": self.accepted, "duplicates": self.duplicates}
        if self.graded:
            body["graded"] = self.graded
        return body


def boot_id() -> str:
    """Return the clock epoch events are recorded in (boot id, plus the clock's changes).

    The Pi has no real-time clock: central corrects each epoch's times with its own offset.
    """
    return clock_epoch.current()


def now_ts() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _number(i: int, name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidEvent(
            i,
            N_("result.%(name)s must be a number from %(low)s to %(high)s"),
            name=name,
            low=low,
            high=high,
        )
    return value


def validate_event(i: int, raw: Any) -> CleanEvent:
    """Return the checked event at index ``i`` of a batch.

    Raises:
        InvalidEvent: a field is missing or has the wrong type or range.
    """
    if not isinstance(raw, dict):
        raise InvalidEvent(i, N_("each event must be an object"))
    unknown = sorted(set(raw) - {"id", "verb", "object", "result", "timestamp", "context"})
    if unknown:
        raise InvalidEvent(i, N_("unknown field %(field)s"), field=", ".join(unknown))
    try:
        parsed = uuid.UUID(str(raw.get("id")))
    except ValueError:
        raise InvalidEvent(
            i, N_("id must be a UUID made by the client"), code="invalid_id"
        ) from None
    if parsed.version == 5:
        # Name-based ids are the Pi's own (decisions, quiz outcomes): a phone sending one
        # first would take the place of the record the Pi makes later.
        raise InvalidEvent(
            i, N_("id must be a random UUID; version 5 ids are made by the Pi"), code="invalid_id"
        )
    event_id = str(parsed)
    verb = raw.get("verb")
    if verb not in VERBS:
        raise InvalidEvent(
            i, N_("verb must be one of %(verbs)s"), code="invalid_verb", verbs=", ".join(VERBS)
        )
    obj = raw.get("object")
    if not isinstance(obj, str) or not obj or len(obj) > 300:
        raise InvalidEvent(i, N_("object must be an item id"))
    stamp = raw.get("timestamp")
    try:
        if not isinstance(stamp, str) or len(stamp) > 40:
            raise ValueError(stamp)
        datetime.fromisoformat(stamp)
    except ValueError:
        raise InvalidEvent(i, N_("timestamp must be an ISO 8601 date and time")) from None
    result = raw.get("result")
    if result is not None:
        if not isinstance(result, dict):
            raise InvalidEvent(i, N_("result must be an object"))
        bad = sorted(set(result) - set(RESULT_KEYS))
        if bad:
            raise InvalidEvent(i, N_("unknown result field %(field)s"), field=", ".join(bad))
        for name, high in (
            ("score", 1.0),
            ("completion", 1.0),
            ("duration_s", MAX_SECONDS),
            ("position_s", MAX_SECONDS),
        ):
            if name in result:
                _number(i, name, result[name], 0.0, high)
        if json_size(result) > MAX_JSON:
            raise InvalidEvent(i, N_("result is too large"))
    context = raw.get("context")
    if context is not None and (
        not isinstance(context, dict) or json_size(context) > MAX_CONTEXT_CHARS
    ):
        raise InvalidEvent(i, N_("context must be an object of at most 20 KB"))
    return CleanEvent(i, event_id, verb, obj, result, context, stamp)


def validate_batch(body: Any) -> list[CleanEvent]:
    """Return the checked events of a request body ``{"events": [...]}``.

    Raises:
        InvalidBatch: the body is not an object with a list of 1 to 200 events.
        InvalidEvent: an event is not valid.
    """
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_BATCH:
        raise InvalidBatch(
            N_('Send JSON {"events": [...]} with 1 to %(most)s events'), most=MAX_BATCH
        )
    return [validate_event(i, raw) for i, raw in enumerate(events)]


def _load_items(events: list[CleanEvent]) -> dict[str, ItemFacts]:
    """Return (type, course key, course open, quiz data) by item key for the batch's items."""
    return item_facts(e.object for e in events)


def _check_items(user: User, events: list[CleanEvent], items: dict) -> None:
    assigned: set[str] | None = None
    for e in events:
        found = items.get(e.object)
        if found is not None and user.role == "learner" and not found[2]:
            if assigned is None:
                assigned = assigned_course_keys(user)
            if found[1] not in assigned:
                found = None
        if found is None:
            raise InvalidEvent(
                e.index,
                N_("there is no item %(item)s for you"),
                code="unknown_item",
                item=e.object,
            )
        kind = found[0]
        if kind == "task" and e.verb in ("passed", "failed", "completed", "attempted"):
            # A task is decided by an instructor's review (edge_server/tasks), never a phone.
            raise InvalidEvent(
                e.index,
                N_("tasks are decided by an instructor's review; submit the work instead"),
                code="reviewed_on_server",
            )
        if kind == "quiz" and e.verb in ("passed", "failed", "completed"):
            raise InvalidEvent(
                e.index,
                N_("quizzes are graded on the server; send an attempted event with the answers"),
                code="graded_on_server",
            )
        if e.verb == "attempted" and kind == "quiz":
            response = (e.result or {}).get("response")
            if not isinstance(response, dict):
                raise InvalidEvent(
                    e.index, N_("an attempted event needs result.response with the answers")
                )
            if not any(_answered(v) for v in response.values()):
                # A tap on "Submit" with nothing filled in must not use up an attempt.
                raise InvalidEvent(
                    e.index,
                    N_("no question is answered; answer at least one"),
                    code="empty_attempt",
                )
        elif e.verb in ("attempted", "passed", "failed") and kind != "html5":
            raise InvalidEvent(
                e.index,
                N_("%(verb)s applies only to quizzes and html5 apps"),
                code="invalid_verb",
                verb=e.verb,
            )


def _answered(value: Any) -> bool:
    """Return whether one answer of a quiz response says anything."""
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list):
        return any(_answered(v) for v in value)
    return value is not None


def _grade(e: CleanEvent, quiz_data: str, summary: Summary | None) -> dict[str, Any]:
    """Grade a quiz attempt in place; return what the client is told about it."""
    definition = quizzes.definition(json.loads(quiz_data))
    limit = quizzes.attempt_limit(definition)
    done = summary.attempts if summary else 0
    if limit is not None and done >= limit:
        raise AttemptsExhausted(
            e.index,
            N_("you have used all %(limit)s attempts at this quiz"),
            limit=limit,
        )
    try:
        grade = quizzes.grade(definition, (e.result or {}).get("response"))
    except KruError as exc:
        raise InvalidEvent(e.index, exc.template, code=exc.code, **exc.params) from exc
    claimed = (e.result or {}).get("score")
    e.result = {**(e.result or {}), "score": grade.score, "response": grade.response}
    e.result["success"] = grade.success
    if grade.pending:  # essays: kept for an instructor to mark, not counted as wrong
        e.result["awaiting_marking"] = grade.pending
    e.context = {
        **(e.context or {}),
        "graded": grade.correct,
        "attempt": done + 1,
        "grader": "server",
    }
    if claimed is not None and claimed != grade.score:
        e.context["claimed_score"] = claimed
        log.info("quiz %s: client claimed %s, server graded %s", e.object, claimed, grade.score)
    if json_size(e.context) > MAX_CONTEXT_CHARS:
        # The central server refuses larger contexts: never store one it would refuse.
        raise InvalidEvent(e.index, N_("context must be an object of at most 20 KB"))
    return {
        "id": e.id,
        "object": e.object,
        "score": grade.score,
        "success": grade.success,
        "attempt": done + 1,
        "correct": grade.correct,
        "awaiting_marking": grade.pending,
    }


def _row(user: User, e: CleanEvent, server_ts: str) -> tuple:
    """Return the values of an events row in the order of ``progress.INSERT_EVENT``."""
    return (
        e.id,
        user.id,
        e.verb,
        e.object,
        json.dumps(e.result, ensure_ascii=False) if e.result is not None else None,
        json.dumps(e.context, ensure_ascii=False) if e.context is not None else None,
        e.client_ts,
        server_ts,
        boot_id(),
    )


_COMMITTERS: dict[int, GroupCommit] = {}


ProgressListener = Callable[[User, Iterable[Summary], str], None]
_progress_listeners: list[ProgressListener] = []


def on_progress(listener: ProgressListener) -> None:
    """Call ``listener(user, summaries, server_ts)`` after each stored batch of events, in its
    transaction: features built on learning (CPD certificates) watch progress this way, so
    learning need not know them. Registering the same listener twice keeps one."""
    if listener not in _progress_listeners:
        _progress_listeners.append(listener)


def _committer() -> GroupCommit:
    """Return this process's group committer of the site database handle."""
    committer = _COMMITTERS.get(id(db))
    if committer is None:
        committer = _COMMITTERS.setdefault(id(db), GroupCommit(db))
    return committer


def ingest(user: User, events: list[CleanEvent]) -> IngestResult:
    """Store a checked batch for ``user`` and update their summaries, in one transaction.

    Raises:
        InvalidEvent: an event names an item the user may not open, or breaks a rule of
            its item type; nothing of the batch is stored.
        AttemptsExhausted: a quiz attempt is beyond the quiz's limit; nothing is stored.
    """
    items = _load_items(events)
    _check_items(user, events, items)
    return _committer().run(lambda: _store(user, events, items))


def _store(user: User, events: list[CleanEvent], items: dict) -> IngestResult:
    """Store a checked batch inside the caller's write transaction.

    Raises:
        AttemptsExhausted: a quiz attempt is beyond the quiz's limit.
    """
    out = IngestResult()
    server_ts = now_ts()
    ids = [e.id for e in events]
    marks = ",".join("?" * len(ids))
    known = {r[0] for r in db.execute_sql(f"SELECT id FROM events WHERE id IN ({marks})", ids)}  # noqa: S608
    fresh: list[CleanEvent] = []
    for e in events:
        if e.id in known:
            out.duplicates += 1
        else:
            known.add(e.id)
            fresh.append(e)
    if not fresh:
        return out
    summaries = load_summaries(user.id, (e.object for e in fresh))
    rows: list[tuple] = []
    answers: list[dict[str, Any]] = []
    touched: dict[str, Summary] = {}
    for e in fresh:
        kind, _course, _open, quiz_data = items[e.object]
        info = ItemInfo(kind)
        summary = summaries.get(e.object)
        if kind == "quiz" and e.verb == "attempted":
            graded = _grade(e, quiz_data or "{}", summary)
            assert e.result is not None  # _grade has filled it in
            out.graded.append(graded)
            answers += answer_rows(e.id, user.id, e.object, e.context, e.result["response"])
        rows.append(_row(user, e, server_ts))
        if kind == "quiz" and e.verb == "attempted":
            assert e.result is not None
            outcome = "passed" if e.result["success"] else "failed"
            echo = CleanEvent(
                e.index,
                str(uuid.uuid5(OUTCOME_NAMESPACE, e.id)),
                outcome,
                e.object,
                {"score": e.result["score"]},
                {"attempt_id": e.id},
                e.client_ts,
            )
            rows.append(_row(user, echo, server_ts))
        before = summary.status if summary else None
        summaries[e.object] = touched[e.object] = after = apply_event(
            summary, user.id, e.verb, e.object, e.result, server_ts, info
        )
        made = decided(before, after.status)
        if made:
            rows.append(decision_row(user.uid, after, made, server_ts, boot_id()))
    # One prepared statement for a batch: peewee built the SQL of a 20-event insert value by
    # value, about a third of a request's CPU time.
    db.cursor().executemany(INSERT_EVENT, rows)
    save_summaries(touched.values())
    for listener in _progress_listeners:  # issue 16: a course may now be complete
        listener(user, touched.values(), server_ts)
    if answers:
        QuizAnswer.insert_many(answers).execute()
    out.accepted = len(fresh)
    return out


def record_decided(user: User, made: list[CleanEvent]) -> IngestResult:
    """Store events the Pi made itself for ``user`` (an instructor's mark of an essay), in
    one transaction, with their summaries; the rules for phones' events do not apply."""
    items = _load_items(made)
    return _committer().run(lambda: _store(user, made, items))


def ingest_body(user: User, body: Any) -> IngestResult:
    """Validate and store a request body ``{"events": [...]}`` (see ``ingest``).

    Raises:
        InvalidBatch: the body has the wrong shape.
        InvalidEvent: an event is not valid; nothing is stored.
    """
    return ingest(user, validate_batch(body))


def submit_attempt(
    user: User,
    item_key: str,
    attempt_id: str,
    response: dict[str, Any],
    client_ts: str | None = None,
) -> IngestResult:
    """Grade and store one quiz attempt made in a page form (same path as the API).

    Raises:
        InvalidEvent: the attempt id or an answer is not valid.
        AttemptsExhausted: no attempts are left.
    """
    event = validate_event(
        0,
        {
            "id": attempt_id,
            "verb": "attempted",
            "object": item_key,
            "result": {"response": response},
            "timestamp": client_ts or now_ts(),
        },
    )
    return ingest(user, [event])


def past_attempts(user: User, item_key: str) -> list[dict[str, Any]]:
    """Return ``user``'s graded attempts at a quiz, oldest first: id, number, score, success."""
    rows = (
        Event.select(Event.id, Event.result, Event.context)
        .where((Event.user == user.id) & (Event.verb == "attempted") & (Event.object == item_key))
        .order_by(Event.server_ts, Event.id)
    )
    out: list[dict[str, Any]] = []
    for row in rows:
        result = json.loads(row.result or "{}")
        context = json.loads(row.context or "{}")
        out.append(
            {
                "id": str(row.id),
                "number": context.get("attempt") or len(out) + 1,
                "score": result.get("score"),
                "success": bool(result.get("success")),
            }
        )
    return out


def graded_attempt(user: User, attempt_id: str) -> dict[str, Any] | None:
    """Return a stored quiz attempt of ``user`` (result and grading), or None."""
    row = (
        Event.select(Event.object, Event.result, Event.context)
        .where((Event.id == attempt_id) & (Event.user == user.id) & (Event.verb == "attempted"))
        .first()
    )
    if row is None:
        return None
    return {
        "object": row.object,
        "result": json.loads(row.result or "{}"),
        "context": json.loads(row.context or "{}"),
    }
