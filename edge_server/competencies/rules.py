"""A competency's level from its evidence: the rules of docs/progress-rules.md, as one pure
function. No database and no Flask here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Levels, lowest first. The names are the site's; central shows the numbers with these names.
NOT_YET, BEGINNING, DEVELOPING, PROFICIENT = 0, 1, 2, 3
LEVELS = (NOT_YET, BEGINNING, DEVELOPING, PROFICIENT)
# Average share of the scored evidence a level needs.
DEVELOPING_SHARE = 0.5
PROFICIENT_SHARE = 0.8
# Kinds of evidence: an item done (no score), an item's score (quiz, task, activity), a
# rubric criterion of a task review, a criterion of a practicum observation.
STUDIED, SCORED, REVIEW, OBSERVATION = "studied", "scored", "review", "observation"
PRACTICE = (REVIEW, OBSERVATION)  # someone watched the learner's work or teaching


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence for a competency."""

    code: str  # the code the pack names: the standard or one of its indicators
    kind: str  # STUDIED, SCORED, REVIEW or OBSERVATION
    item: str  # the item (quiz, task, observation form...) it comes from
    share: float | None  # 0..1; None for STUDIED
    ts: str  # when the site recorded it
    criterion: str | None = None  # the rubric criterion (REVIEW, OBSERVATION)
    points: float | None = None  # the level's points and the criterion's highest
    max_points: float | None = None


@dataclass(frozen=True)
class Decision:
    level: int
    score: float | None  # the average share of the scored evidence, 0..1
    evidence: int  # how many pieces


def average(evidence: Sequence[Evidence]) -> float | None:
    """Return the mean share of the scored evidence (None when none is scored)."""
    shares = [e.share for e in evidence if e.share is not None]
    return round(sum(shares) / len(shares), 4) if shares else None


def decide(evidence: Sequence[Evidence]) -> Decision:
    """Return a competency's level from all its evidence.

    - not yet: no evidence;
    - beginning: evidence, but nothing scored, or scored evidence averaging under 50 %;
    - developing: scored evidence averaging at least 50 %;
    - proficient: at least 80 %, and at least one piece is practice (a rubric criterion of a
      reviewed task or of an observation): quizzes alone never make a teacher proficient.
    """
    if not evidence:
        return Decision(NOT_YET, None, 0)
    score = average(evidence)
    if score is None or score < DEVELOPING_SHARE:
        level = BEGINNING
    elif score >= PROFICIENT_SHARE and any(e.kind in PRACTICE for e in evidence):
        level = PROFICIENT
    else:
        level = DEVELOPING
    return Decision(level, score, len(evidence))
