"""Essay questions marked by an instructor (issue 18 item 4, in issue 15's review queue).

A quiz attempt with essay answers is graded on the Pi without them: its event keeps the
answers and lists them in ``result.awaiting_marking``. An instructor of the learner marks
each essay right or wrong, once per attempt; the attempt's score is then worked out again
with the essays' points, and recorded as a ``passed`` or ``failed`` event made on the Pi
(``context.attempt_id``, ``context.essay_marks``, ``context.marked_by``). Progress keeps a
quiz's best score, as for any attempt.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from content_packs.catalog import item_facts

from .. import accounts
from ..accounts.models import User
from ..base.db import db
from ..base.errors import N_, NotFound, PermissionDenied, ValidationError
from . import events
from . import quiz as quizzes
from .events import CleanEvent, now_ts

MARK_NAMESPACE = uuid.UUID("6b0f3d0e-2f8a-4c55-9d7e-1a4e5c2b9f31")


class EssayNotFound(NotFound):
    code = "essay_not_found"


@dataclass
class EssayAttempt:
    """A quiz attempt with essays: who, which quiz, the essays and their marks (if given)."""

    id: str
    learner_id: int
    item: str
    attempt: int
    submitted_at: str
    score: float
    essays: list[dict[str, Any]] = field(default_factory=list)  # id, prompt, answer
    marks: dict[str, bool] | None = None
    final_score: float | None = None


def _mark_id(attempt_id: str) -> str:
    return str(uuid.uuid5(MARK_NAMESPACE, attempt_id))


def _marked(ids: list[str]) -> dict[str, dict[str, Any]]:
    """Return the mark events of the attempts ``ids`` by attempt id."""
    if not ids:
        return {}
    marks = {_mark_id(i): i for i in ids}
    holes = ",".join("?" * len(marks))
    rows = db.execute_sql(
        f"SELECT id, result, context FROM events WHERE id IN ({holes})",  # noqa: S608
        list(marks),
    ).fetchall()
    return {
        marks[r[0]]: {"result": json.loads(r[1] or "{}"), "context": json.loads(r[2] or "{}")}
        for r in rows
    }


def _quiz(item_key: str) -> dict[str, Any]:
    facts = item_facts([item_key]).get(item_key)
    if facts is None or facts.type != "quiz":
        return {}
    return quizzes.definition(json.loads(facts.quiz or "{}"))


def _attempt(row: tuple, lang: str, marks: dict[str, dict[str, Any]]) -> EssayAttempt:
    event_id, user_id, item, result_text, context_text, server_ts = row
    result, context = json.loads(result_text or "{}"), json.loads(context_text or "{}")
    questions = {str(q["id"]): q for q in _quiz(item).get("questions", [])}
    essays = [
        {
            "id": qid,
            "prompt": quizzes.text(
                questions.get(qid, {}).get(f"prompt_{lang}")
                or questions.get(qid, {}).get("prompt_km")
                or questions.get(qid, {}).get("prompt_en"),
                lang,
            ),
            "answer": str((result.get("response") or {}).get(qid, "")),
        }
        for qid in result.get("awaiting_marking") or []
    ]
    found = EssayAttempt(
        event_id,
        user_id,
        item,
        int(context.get("attempt") or 1),
        server_ts,
        float(result.get("score") or 0),
        essays,
    )
    if event_id in marks:
        found.marks = marks[event_id]["context"].get("essay_marks")
        found.final_score = marks[event_id]["result"].get("score")
    return found


_COLUMNS = "id, user_id, object, result, context, server_ts"
_AWAITING = "verb = 'attempted' AND json_extract(result, '$.awaiting_marking[0]') IS NOT NULL"


def for_learners(learner_ids: list[int], lang: str, item: str | None = None) -> list[EssayAttempt]:
    """Return the attempts with essays of ``learner_ids``, oldest first (marked ones too)."""
    if not learner_ids:
        return []
    holes = ",".join("?" * len(learner_ids))
    sql = f"SELECT {_COLUMNS} FROM events WHERE {_AWAITING} AND user_id IN ({holes})"  # noqa: S608
    params: list[Any] = list(learner_ids)
    if item:
        sql += " AND object = ?"
        params.append(item)
    rows = db.execute_sql(sql + " ORDER BY server_ts, id", params).fetchall()
    marks = _marked([r[0] for r in rows])
    return [_attempt(r, lang, marks) for r in rows]


def get(viewer: User, attempt_id: str, lang: str) -> EssayAttempt:
    """Return one attempt with essays, for an instructor of its learner.

    Raises:
        EssayNotFound: no such attempt with essays, or ``viewer`` does not teach the learner.
    """
    row = db.execute_sql(
        f"SELECT {_COLUMNS} FROM events WHERE id = ? AND {_AWAITING}",  # noqa: S608
        [attempt_id],
    ).fetchone()
    if row is None or not accounts.can_see_learner(viewer, row[1]):
        raise EssayNotFound(N_("There is no essay to mark here"))
    return _attempt(row, lang, _marked([attempt_id]))


def mark(viewer: User, attempt_id: str, marks: dict[str, bool], lang: str = "km") -> EssayAttempt:
    """Mark every essay of an attempt right or wrong and record the attempt's new score.

    Raises:
        EssayNotFound: as ``get``.
        PermissionDenied: ``viewer`` is not an instructor or admin.
        ValidationError: an essay has no mark, or the attempt was marked already.
    """
    if viewer.role not in ("instructor", "admin"):
        raise PermissionDenied(N_("Only instructors mark essays"))
    found = get(viewer, attempt_id, lang)
    if found.marks is not None:
        raise ValidationError(N_("These essays are marked already"), code="essay_marked")
    wanted = [e["id"] for e in found.essays]
    if sorted(marks) != sorted(wanted):
        raise ValidationError(N_("Mark every essay right or wrong"), code="essay_unmarked")
    definition = _quiz(found.item)
    points = {str(q["id"]): float(q.get("points", 1) or 1) for q in definition.get("questions", [])}
    auto = sum(p for qid, p in points.items() if qid not in wanted)
    essay_points = sum(points.get(qid, 1.0) for qid in wanted)
    earned = found.score * auto + sum(points.get(q, 1.0) for q in wanted if marks[q])
    score = round(earned / (auto + essay_points), 4) if auto + essay_points else 0.0
    success = score >= quizzes.pass_mark(definition)
    learner = accounts.get_user(found.learner_id)
    event = CleanEvent(
        0,
        _mark_id(attempt_id),
        "passed" if success else "failed",
        found.item,
        {"score": score, "success": success},
        {"attempt_id": attempt_id, "essay_marks": marks, "marked_by": viewer.uid},
        now_ts(),
    )
    events.record_decided(learner, [event])
    found.marks, found.final_score = marks, score
    return found
