"""A task item's definition (from its catalog data) and rubric scoring. No Flask here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# Where a rubric's per-criterion result goes in an event (re-exported for the tasks' callers).
from sync.protocol import CRITERIA_EXTENSION as CRITERIA_EXTENSION

from ..base.errors import N_, ValidationError

KINDS = ("document", "image", "audio", "video")
DEFAULT_PASS_MARK = 0.6


class InvalidRubric(ValidationError):
    code = "invalid_rubric"


@dataclass(frozen=True)
class Level:
    id: str
    label: dict[str, str]
    points: float
    descriptor: dict[str, str]


@dataclass(frozen=True)
class Criterion:
    id: str
    title: dict[str, str]
    levels: tuple[Level, ...]
    competency: str | None = None

    @property
    def max_points(self) -> float:
        return max(level.points for level in self.levels)


@dataclass(frozen=True)
class Task:
    """What a learner must hand in and how it is judged."""

    instructions_html: dict[str, str]
    accept: tuple[str, ...]
    max_mb: int | None
    due: str | None
    pass_mark: float
    criteria: tuple[Criterion, ...]

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.criteria)

    def max_bytes(self, site_limit_mb: int) -> int:
        """Return the largest file this task takes: its own limit within the site's."""
        mb = min(self.max_mb or site_limit_mb, site_limit_mb)
        return mb * 1024 * 1024


@dataclass(frozen=True)
class Score:
    rubric: dict[str, str]
    points: float
    max_points: float
    score: float  # points / max_points, 0..1, like a quiz score
    success: bool  # score at or above the pass mark
    criteria: tuple[dict[str, Any], ...] = ()  # per criterion, the CRITERIA_EXTENSION shape

    def extensions(self) -> dict[str, Any]:
        """Return the event result's ``extensions``: each criterion's level and competency."""
        return {CRITERIA_EXTENSION: list(self.criteria)}


def _number(value: float) -> float | int:
    """Return whole points as an int (the sample packs' levels are whole numbers)."""
    return int(value) if float(value).is_integer() else value


def criteria_from_data(raw: Any) -> tuple[Criterion, ...]:
    """Return the criteria of a rubric as the catalog keeps it (checked at install)."""
    return tuple(
        Criterion(
            str(c["id"]),
            dict(c.get("title") or {}),
            tuple(
                Level(
                    str(lv["id"]),
                    dict(lv.get("label") or {}),
                    float(lv["points"]),
                    dict(lv.get("descriptor") or {}),
                )
                for lv in c["levels"]
            ),
            str(c["competency"]) if c.get("competency") else None,
        )
        for c in raw or []
    )


def pick(text: dict[str, str] | None, lang: str) -> str:
    """Return the ``lang`` text of a {km, en} pair, falling back to the other."""
    text = text or {}
    return text.get(lang) or text.get("km") or text.get("en") or ""


def task_from_data(item_data: dict[str, Any]) -> Task:
    """Return the task of an item's catalog data (``{"task": {...}}``, checked at install)."""
    raw = item_data.get("task") or {}
    criteria = criteria_from_data(raw.get("rubric"))
    return Task(
        instructions_html=dict(raw.get("instructions_html") or {}),
        accept=tuple(k for k in raw.get("accept") or KINDS if k in KINDS),
        max_mb=raw.get("max_mb"),
        due=raw.get("due"),
        pass_mark=float(raw.get("pass_mark", DEFAULT_PASS_MARK)),
        criteria=criteria,
    )


class Rubric(Protocol):
    """What ``score`` reads: a task, or an observation form."""

    @property
    def criteria(self) -> tuple[Criterion, ...]: ...

    @property
    def max_points(self) -> float: ...

    @property
    def pass_mark(self) -> float: ...


def score(task: Rubric, chosen: Any) -> Score:
    """Return the score of a filled-in rubric ``{criterion id: level id}``.

    Every criterion needs one of its levels. ``task`` may be anything with ``criteria``,
    ``max_points`` and ``pass_mark`` (an observation form too).

    Raises:
        InvalidRubric: not an object, a criterion missing or unknown, or a level unknown.
    """
    if not isinstance(chosen, dict):
        raise InvalidRubric(N_("rubric must be an object of criterion: level"))
    known = {c.id for c in task.criteria}
    extra = sorted(set(map(str, chosen)) - known)
    if extra:
        raise InvalidRubric(N_("the rubric has no criterion %(criterion)s"), criterion=extra[0])
    points = 0.0
    per_criterion: list[dict[str, Any]] = []
    for criterion in task.criteria:
        level_id = chosen.get(criterion.id)
        if level_id is None:
            raise InvalidRubric(
                N_("choose a level for the criterion %(criterion)s"), criterion=criterion.id
            )
        level = next((lv for lv in criterion.levels if lv.id == level_id), None)
        if level is None:
            raise InvalidRubric(
                N_("the criterion %(criterion)s has no level %(level)s"),
                criterion=criterion.id,
                level=str(level_id),
            )
        points += level.points
        per_criterion.append(
            {
                "criterion": criterion.id,
                "competency": criterion.competency,
                "level": _number(level.points),
                "max": _number(criterion.max_points),
                "level_id": level.id,
            }
        )
    total = task.max_points
    value = round(points / total, 4) if total else 0.0
    return Score(
        {str(k): str(v) for k, v in chosen.items()},
        points,
        total,
        value,
        value >= task.pass_mark,
        tuple(per_criterion),
    )
