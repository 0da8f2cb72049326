"""Server-side quiz grading from the quiz definition in ``items.data``.

A client never decides a score: it sends its answers (``response``: question id -> answer)
and this module grades them. The definition (docs/content-packs.md, ``quiz`` of an item)
holds ``questions`` (types single, multiple, true_false, numeric, short_text, matching,
ordering and essay, with ``prompt_km``/``prompt_en``, ``choices``, ``pairs``, ``answer`` or
``accept``, ``tolerance``, ``points``, ``feedback_correct_*``/``feedback_wrong_*``),
``pass_mark`` (0..1) and ``attempts`` (null: unlimited). Essay answers are kept for an
instructor to mark: they are "awaiting marking", neither right nor wrong, and left out of
the score until marked (issue 18).
"""

from __future__ import annotations

import math
import random
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from ..base.errors import N_, ValidationError

DEFAULT_PASS_MARK = 0.8
MAX_TEXT_ANSWER = 500
MAX_ESSAY_ANSWER = 20000


class InvalidResponse(ValidationError):
    code = "invalid_response"


@dataclass(frozen=True)
class Grade:
    score: float  # 0..1
    success: bool
    correct: dict[str, bool]  # question id -> correct (essays are not in it)
    response: dict[str, Any]  # normalised answers
    pending: list[str] = field(default_factory=list)  # essays awaiting an instructor's mark


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    prompt: str
    choices: list[tuple[str, str]] = field(default_factory=list)  # (choice id, text)
    # matching: the texts to match each choice with, as (pair id, text), in shown order
    matches: list[tuple[str, str]] = field(default_factory=list)


def text(value: Any, lang: str) -> str:
    """Return the ``lang`` text of a ``{"km", "en"}`` object (or a plain string)."""
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("km") or value.get("en") or "")
    return "" if value is None else str(value)


def _field_text(obj: dict[str, Any], name: str, lang: str) -> str:
    if name in obj:
        return text(obj[name], lang)
    return str(obj.get(f"{name}_{lang}") or obj.get(f"{name}_km") or obj.get(f"{name}_en") or "")


def definition(item_data: dict[str, Any]) -> dict[str, Any]:
    """Return the quiz definition held in an item's data (``{"quiz": {...}}`` or bare)."""
    inner = item_data.get("quiz")
    return inner if isinstance(inner, dict) else item_data


def pass_mark(quiz: dict[str, Any]) -> float:
    value = quiz.get("pass_mark", DEFAULT_PASS_MARK)
    return float(value) if isinstance(value, int | float) else DEFAULT_PASS_MARK


def attempt_limit(quiz: dict[str, Any]) -> int | None:
    """Return the most attempts a learner has, or None for unlimited."""
    value = quiz.get("attempts") or quiz.get("max_attempts")
    return int(value) if isinstance(value, int) and value > 0 else None


def questions(quiz: dict[str, Any], lang: str, shuffle_seed: str | None = None) -> list[Question]:
    """Return the questions for display: prompts and choices, never the answers.

    With ``shuffle_seed`` and a quiz marked ``"shuffle": true``, questions and choices come
    in an order drawn from the seed (an attempt id), so each attempt has its own order and
    a reload of the same attempt keeps it. Grading goes by ids, so order never matters.
    """
    shown = []
    for q in quiz.get("questions", []):
        qtype = q.get("type", "single")
        choices: list[tuple[str, str]] = []
        matches: list[tuple[str, str]] = []
        if qtype in ("single", "multiple", "ordering"):
            choices = [(str(c.get("id")), _field_text(c, "text", lang)) for c in q["choices"]]
        elif qtype == "matching":
            pairs = q.get("pairs", [])
            choices = [(str(p["id"]), _field_text(p, "text", lang)) for p in pairs]
            matches = [(str(p["id"]), _field_text(p, "match", lang)) for p in pairs]
            matches.sort(key=lambda m: m[1])  # never in the pairs' own order
        prompt = _field_text(q, "prompt", lang)
        shown.append(Question(str(q["id"]), qtype, prompt, choices, matches))
    seed = shuffle_seed or "kru"
    rng = random.Random(seed)  # noqa: S311 - an order, not a secret
    if shuffle_seed and quiz.get("shuffle") is True:
        rng.shuffle(shown)
        for q in shown:
            if q.type != "ordering":
                rng.shuffle(q.choices)
    for q in shown:
        # An ordering question shown in its right order would answer itself.
        if q.type == "ordering" and len(q.choices) > 1:
            right = list(q.choices)
            while q.choices == right:
                rng.shuffle(q.choices)
    return shown


def feedback(
    quiz: dict[str, Any],
    grade_correct: dict[str, bool],
    lang: str,
    response: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Return the feedback text per question for a graded attempt.

    The feedback of each choice the learner picked (``feedback_km``/``feedback_en`` of a
    choice) comes first, then the question's feedback for a right or wrong answer.
    """
    out: dict[str, str] = {}
    for q in quiz.get("questions", []):
        qid = str(q["id"])
        picked = (response or {}).get(qid)
        picked_ids = {str(p) for p in picked} if isinstance(picked, list) else {str(picked)}
        texts = [
            _field_text(c, "feedback", lang)
            for c in q.get("choices") or []
            if picked is not None and str(c.get("id")) in picked_ids
        ]
        name = "feedback_correct" if grade_correct.get(qid, False) else "feedback_wrong"
        texts.append(_field_text(q, name, lang))
        shown = " ".join(t for t in texts if t)
        if shown:
            out[qid] = shown
    return out


def _correct_choices(q: dict[str, Any]) -> set[str]:
    answer = q.get("answer", q.get("correct"))
    if answer is None:
        return {str(c["id"]) for c in q.get("choices", []) if c.get("correct")}
    if isinstance(answer, list):
        return {str(a) for a in answer}
    return {str(answer)}


def normalise_text(value: str) -> str:
    """Return ``value`` compared loosely: NFC, case-folded, inner spaces collapsed."""
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _bad(qid: str) -> InvalidResponse:
    return InvalidResponse(N_("The answer to question %(question)s is not valid"), question=qid)


def _grade_one(q: dict[str, Any], answer: Any) -> tuple[Any, bool]:
    """Return (normalised answer, correct) for one question.

    Raises:
        InvalidResponse: the answer has the wrong shape for the question type.
    """
    qid, qtype = str(q["id"]), q.get("type", "single")
    if qtype == "single":
        if not isinstance(answer, str):
            raise _bad(qid)
        return answer, answer in _correct_choices(q)
    if qtype == "multiple":
        if isinstance(answer, str):
            answer = [answer]
        if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
            raise _bad(qid)
        chosen = sorted(set(answer))
        return chosen, set(chosen) == _correct_choices(q)
    if qtype == "true_false":
        value = _as_bool(answer)
        if value is None:
            raise _bad(qid)
        expected = _as_bool(q.get("answer", q.get("correct")))
        return value, value is expected
    if qtype == "numeric":
        number = _as_number(answer)
        if number is None:
            raise _bad(qid)
        target = _as_number(q.get("answer", q.get("correct")))
        tolerance = _as_number(q.get("tolerance", 0)) or 0.0
        return number, target is not None and abs(number - target) <= tolerance
    if qtype == "short_text":
        if not isinstance(answer, str) or len(answer) > MAX_TEXT_ANSWER:
            raise _bad(qid)
        accepted = q.get("accept", q.get("answer", []))
        if isinstance(accepted, str):
            accepted = [accepted]
        ok = normalise_text(answer) in {normalise_text(str(a)) for a in accepted}
        return answer.strip(), ok
    if qtype == "matching":
        pairs = {str(p["id"]) for p in q.get("pairs", [])}
        if not isinstance(answer, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in answer.items()
        ):
            raise _bad(qid)
        if not set(answer) <= pairs or not set(answer.values()) <= pairs:
            raise _bad(qid)
        matched = dict(sorted(answer.items()))
        return matched, all(matched.get(p) == p for p in pairs)
    if qtype == "ordering":
        ids = [str(c["id"]) for c in q.get("choices", [])]
        if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
            raise _bad(qid)
        if not set(answer) <= set(ids):
            raise _bad(qid)
        return answer, answer == ids
    raise InvalidResponse(
        N_("Question %(question)s has an unknown type %(type)s"), question=qid, type=qtype
    )


def grade(quiz: dict[str, Any], response: Any) -> Grade:
    """Grade ``response`` (question id -> answer) against the quiz definition.

    Unanswered questions count as wrong. Essay answers are kept, listed in ``pending`` and
    left out of the score (their points too) until an instructor marks them.

    Raises:
        InvalidResponse: the response is not an object, names an unknown question, or an
            answer has the wrong shape.
    """
    if not isinstance(response, dict):
        raise InvalidResponse(N_("The answers must be an object of question id to answer"))
    defs = {str(q["id"]): q for q in quiz.get("questions", [])}
    unknown = sorted(set(response) - set(defs))
    if unknown:
        raise InvalidResponse(
            N_("The quiz has no question %(question)s"), question=", ".join(unknown)
        )
    correct: dict[str, bool] = {}
    normalised: dict[str, Any] = {}
    pending: list[str] = []
    total = earned = 0.0
    for qid, q in defs.items():
        points = _as_number(q.get("points", 1)) or 1.0
        if q.get("type") == "essay":
            essay = response.get(qid)
            if essay not in (None, ""):
                if not isinstance(essay, str) or len(essay) > MAX_ESSAY_ANSWER:
                    raise _bad(qid)
                normalised[qid] = essay.strip()
                pending.append(qid)
            continue
        total += points
        if qid not in response or response[qid] in (None, "", [], {}):
            correct[qid] = False
            continue
        normalised[qid], correct[qid] = _grade_one(q, response[qid])
        if correct[qid]:
            earned += points
    score = round(earned / total, 4) if total else 0.0
    return Grade(score, score >= pass_mark(quiz), correct, normalised, pending)
