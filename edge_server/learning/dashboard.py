"""The cohort matrix and quiz statistics: one source for the dashboard, the CSV and the JSON.

``cohort_matrix`` returns plain data; the instructor page renders it, ``Matrix.json`` is
``GET /api/v1/cohorts/<id>/progress`` and ``Matrix.csv_rows`` is ``progress.csv``, so the
three never disagree.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from peewee import SQL, Expression, NodeList, fn

from content_packs import catalog

from ..accounts.models import Cohort, CohortMember, User
from ..base.db import compiled, db
from ..base.localtime import DEFAULT_ZONE, local_text
from . import quiz as quizzes
from .courses import ItemStatus, progress_rows, statuses
from .models import Assignment, Event, Progress, QuizAnswer
from .progress import counted_items, is_done, percent

_VALUE = SQL("?")  # a parameter of the queries built once


@dataclass
class Column:
    key: str
    course: str
    type: str
    title: str
    required: bool


@dataclass
class Cell:
    status: str = "not_started"
    score: float | None = None
    time_s: int = 0
    attempts: int = 0

    def json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "score": self.score,
            "time_s": self.time_s,
            "attempts": self.attempts,
        }


@dataclass
class LearnerRow:
    user_id: int
    username: str
    display_name: str
    cells: list[Cell]
    courses: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (done, total)

    @property
    def started(self) -> bool:
        return any(c.status != "not_started" for c in self.cells)

    @property
    def time_s(self) -> int:
        return sum(c.time_s for c in self.cells)

    def percent(self, course_key: str) -> int:
        return percent(*self.courses.get(course_key, (0, 0)))


@dataclass
class Matrix:
    cohort_id: int
    cohort_name: str
    courses: list[tuple[str, str]]  # (key, title)
    columns: list[Column]
    rows: list[LearnerRow]

    @property
    def not_started(self) -> list[LearnerRow]:
        return [r for r in self.rows if not r.started]

    def json(self) -> dict[str, Any]:
        return {
            "cohort": {"id": self.cohort_id, "name": self.cohort_name},
            "courses": [{"id": k, "title": t} for k, t in self.courses],
            "items": [
                {
                    "id": c.key,
                    "course": c.course,
                    "type": c.type,
                    "title": c.title,
                    "required": c.required,
                }
                for c in self.columns
            ],
            "learners": [
                {
                    "id": r.user_id,
                    "username": r.username,
                    "display_name": r.display_name,
                    "started": r.started,
                    "time_s": r.time_s,
                    "courses": {
                        k: {"done": d, "required": t, "percent": r.percent(k)}
                        for k, (d, t) in r.courses.items()
                    },
                    "items": {
                        c.key: cell.json() for c, cell in zip(self.columns, r.cells, strict=True)
                    },
                }
                for r in self.rows
            ],
        }

    def csv_rows(self, words: dict[str, str] | None = None) -> Iterator[list[Any]]:
        """Yield the header and one row per learner, for a spreadsheet.

        Statuses are ``words[status]`` (the words the page shows, in its language) and scores
        are whole percents, as on screen; digits stay ASCII so a spreadsheet reads numbers.
        """
        words = words or {}
        header: list[Any] = ["username", "display_name", "time_s"]
        header += [f"{t} (%)" for _k, t in self.courses]
        for c in self.columns:
            header.append(c.title)
            if c.type in SCORED:
                header.append(f"{c.title} (score %)")
        yield header
        for r in self.rows:
            line: list[Any] = [r.username, r.display_name, r.time_s]
            line += [r.percent(k) for k, _t in self.courses]
            for c, cell in zip(self.columns, r.cells, strict=True):
                line.append(words.get(cell.status, cell.status))
                if c.type in SCORED:
                    line.append("" if cell.score is None else round(cell.score * 100))
            yield line


SCORED = ("quiz", "html5", "task")


@dataclass
class CourseChoice:
    key: str
    title: str
    assigned: bool  # assigned to the cohort (else open to everyone)


def course_choices(cohort: Cohort, lang: str) -> list[CourseChoice]:
    """Return every course the cohort's learners can see, in install order: the courses
    assigned to it and the open ones (issue 14 item 9: assigning one hides no other)."""
    assigned = {
        a.course for a in Assignment.select(Assignment.course).where(Assignment.cohort == cohort)
    }
    keys = [k for k, is_open in catalog.courses_in_order() if is_open or k in assigned]
    titles = catalog.course_titles(keys, lang)
    return [CourseChoice(k, titles[k], k in assigned) for k in keys if k in titles]


def cohort_course_keys(cohort: Cohort) -> list[str]:
    """Return the courses a cohort's dashboard shows: assigned ones, else the open ones."""
    keys = [
        a.course for a in Assignment.select(Assignment.course).where(Assignment.cohort == cohort)
    ]
    installed = catalog.courses_in_order()
    if not keys:
        keys = [k for k, is_open in installed if is_open]
    order = {k: i for i, (k, _open) in enumerate(installed)}
    return sorted((k for k in keys if k in order), key=order.__getitem__)


def cohort_matrix(cohort: Cohort, lang: str, course_keys: list[str] | None = None) -> Matrix:
    """Return the learners x items matrix of ``cohort`` for ``course_keys`` (default: its
    courses, see ``cohort_course_keys``)."""
    keys = course_keys if course_keys is not None else cohort_course_keys(cohort)
    learners = list(
        User.select(User.id, User.username, User.display_name)
        .join(CohortMember)
        .where(CohortMember.cohort == cohort)
        .order_by(User.display_name, User.username)
    )
    titles = catalog.course_titles(keys, lang)
    keys = [k for k in keys if k in titles]
    outline = catalog.catalogs(keys, lang)
    keys = [k for k in keys if k in outline]
    columns = [
        Column(item.key, ck, item.type, item.title, item.required)
        for ck in keys
        for item in outline[ck].items
    ]
    cells = _progress_cells(cohort, columns)
    rows = []
    for user in learners:
        mine = [cells.get((user.id, c.key), Cell()) for c in columns]
        row = LearnerRow(user.id, user.username, user.display_name, mine)
        for ck in keys:
            pairs = [(c, cell) for c, cell in zip(columns, mine, strict=True) if c.course == ck]
            required = counted_items(pairs, lambda pair: pair[0].required)
            row.courses[ck] = (
                sum(1 for _c, cell in required if is_done(cell.status)),
                len(required),
            )
        rows.append(row)
    return Matrix(cohort.id, cohort.name, [(k, titles[k]) for k in keys], columns, rows)


def _progress_cells(cohort: Cohort, columns: list[Column]) -> dict[tuple[int, str], Cell]:
    if not columns:
        return {}
    rows = db.execute_sql(_cells_sql(len(columns)), [cohort.id, *(c.key for c in columns)])
    return {
        (uid, item): Cell(status, score, time_s, attempts)
        for uid, item, status, score, time_s, attempts in rows
    }


@cache
def _cells_sql(items: int) -> str:
    """SQL of the progress rows of a cohort's (parameter 1) learners on ``items`` items."""
    p = Progress
    return compiled(
        p.select(p.user_id, p.item, p.status, p.score, p.time_s, p.attempts)
        .join(CohortMember, on=(CohortMember.user == p.user_id) & (CohortMember.cohort == _VALUE))
        .where(p.item.in_([_VALUE] * items))
    )


@dataclass
class QuestionStats:
    id: str
    prompt: str
    answers: int
    correct: int
    wrong: list[tuple[str, int]]  # (answer as shown, how many)

    @property
    def share_correct(self) -> float:
        return round(self.correct / self.answers, 3) if self.answers else 0.0


@dataclass
class QuizStats:
    key: str
    title: str
    questions: list[QuestionStats]


def _shown_answer(raw: str, choices: dict[str, str]) -> str:
    value = json.loads(raw)
    if isinstance(value, list):
        return ", ".join(choices.get(str(v), str(v)) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return choices.get(str(value), str(value))


@cache
def _answers_sql(items: int) -> tuple[str, str]:
    """SQL of the answer counts per question, and of the wrong answers by frequency, of
    ``items`` quizzes (the first parameters) by a cohort's (the last parameter) learners."""
    qa = QuizAnswer
    members = CohortMember.select(CohortMember.user).where(CohortMember.cohort == _VALUE)
    mine = qa.item.in_([_VALUE] * items) & qa.user_id.in_(members)
    count = fn.COUNT(SQL("*"))
    totals = (
        qa.select(qa.item, qa.question, count, fn.SUM(qa.correct))
        .where(mine)
        .group_by(qa.item, qa.question)
    )
    wrong = (
        qa.select(qa.item, qa.question, qa.response, count.alias("n"))
        .where(mine & (qa.correct == SQL("0")) & (qa.response != SQL("'null'")))
        .group_by(qa.item, qa.question, qa.response)
        .order_by(SQL("n").desc(), qa.response)
    )
    return compiled(totals), compiled(wrong)


def quiz_stats(cohort: Cohort, matrix: Matrix, lang: str, top: int = 3) -> list[QuizStats]:
    """Return per-question statistics of the matrix's quizzes over all attempts of the cohort:
    share correct and the most common wrong answers."""
    quiz_cols = [c for c in matrix.columns if c.type == "quiz"]
    if not quiz_cols:
        return []
    keys = [c.key for c in quiz_cols]
    totals_sql, wrong_sql = _answers_sql(len(keys))
    totals = {
        (item, q): (n, ok) for item, q, n, ok in db.execute_sql(totals_sql, [*keys, cohort.id])
    }
    wrong: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for item, q, response, n in db.execute_sql(wrong_sql, [*keys, cohort.id]):
        wrong[(item, q)].append((response, n))
    data = catalog.item_data(keys)
    out = []
    for col in quiz_cols:
        definition = quizzes.definition(json.loads(data.get(col.key) or "{}"))
        stats = []
        for q in quizzes.questions(definition, lang):
            choices = dict(q.choices)
            n, ok = totals.get((col.key, q.id), (0, 0))
            common = [(_shown_answer(r, choices), c) for r, c in wrong[(col.key, q.id)][:top]]
            stats.append(QuestionStats(q.id, q.prompt, n, ok or 0, common))
        out.append(QuizStats(col.key, col.title, stats))
    return out


@dataclass
class Attempt:
    event_id: str
    item: str
    number: int
    server_ts: str
    score: float | None
    success: bool
    answers: list[tuple[str, str, bool]]  # (question prompt, answer shown, correct)


@dataclass
class LearnerDetail:
    user: User
    courses: dict[str, list[ItemStatus]]
    attempts: list[Attempt]
    timeline: list[dict[str, Any]]


def learner_detail(
    learner: User, course_keys: list[str], lang: str, timeline_limit: int = 200
) -> LearnerDetail:
    """Return a learner's status per item, every quiz attempt with answers, and a time line."""
    outline = catalog.catalogs(course_keys, lang)
    progress = progress_rows(learner.id, [c.course_id for c in outline.values()])
    courses = {k: statuses(outline[k], progress) for k in course_keys if k in outline}
    attempts_q = (
        Event.select(Event.id, Event.object, Event.result, Event.context, Event.server_ts)
        .where((Event.user == learner.id) & (Event.verb == "attempted"))
        .order_by(Event.seq)
    )
    defs: dict[str, dict[str, Any]] = {}
    attempts: list[Attempt] = []
    for ev in attempts_q:
        if ev.object not in defs:
            raw = catalog.item_data([ev.object]).get(ev.object)
            defs[ev.object] = quizzes.definition(json.loads(raw)) if raw else {}
        result = json.loads(ev.result or "{}")
        context = json.loads(ev.context or "{}")
        graded = context.get("graded") or {}
        response = result.get("response") or {}
        rows = []
        for q in quizzes.questions(defs[ev.object], lang):
            shown = (
                _shown_answer(json.dumps(response[q.id]), dict(q.choices))
                if q.id in response
                else ""
            )
            rows.append((q.prompt, shown, bool(graded.get(q.id))))
        attempts.append(
            Attempt(
                ev.id,
                ev.object,
                int(context.get("attempt") or 0),
                ev.server_ts,
                result.get("score"),
                bool(result.get("success")),
                rows,
            )
        )
    timeline = [
        {
            "verb": e.verb,
            "object": e.object,
            "result": json.loads(e.result or "null"),
            "client_ts": e.client_ts,
            "server_ts": e.server_ts,
        }
        for e in Event.select(
            Event.verb, Event.object, Event.result, Event.client_ts, Event.server_ts
        )
        .where(Event.user == learner.id)
        .order_by(Event.seq.desc())
        .limit(timeline_limit)
    ]
    return LearnerDetail(learner, courses, attempts, timeline)


EVENT_COLUMNS = [
    "seq",
    "id",
    "username",
    "display_name",
    "verb",
    "object",
    "score",
    "success",
    "completion",
    "duration_s",
    "position_s",
    "response",
    "client_ts",
    "server_ts",
    "boot_id",
]


def event_columns(zone_name: str) -> list[str]:
    """Return the events CSV header; the time columns name the zone they are written in."""
    timed = {"client_ts": "client_time", "server_ts": "server_time"}
    return [f"{timed[c]} ({zone_name})" if c in timed else c for c in EVENT_COLUMNS]


def cohort_event_rows(cohort: Cohort, zone_name: str = DEFAULT_ZONE) -> Iterator[list[Any]]:
    """Yield the header and every event of the cohort's learners, oldest first (streamed),
    with times local to ``zone_name`` (stored in UTC)."""
    yield event_columns(zone_name)
    query = (
        Event.select(
            Event.seq,
            Event.id,
            User.username,
            User.display_name,
            Event.verb,
            Event.object,
            Event.result,
            Event.client_ts,
            Event.server_ts,
            Event.boot_id,
        )
        .join(User, on=(Event.user == User.id))
        # Walk the log in seq (rowid) order and filter by membership: joining members
        # first made SQLite sort every row in a temp B-tree, 70 MB for a term's export.
        # The unary + keeps the user index out of the plan.
        .where(
            Expression(
                NodeList((SQL("+"), Event.user), glue=""),
                "IN",
                CohortMember.select(CohortMember.user).where(CohortMember.cohort == cohort),
            )
        )
        .order_by(Event.seq)
        .tuples()
    )
    for seq, eid, username, name, verb, obj, result, client_ts, server_ts, boot in query.iterator():
        r = json.loads(result) if result else {}
        response = r.get("response")
        yield [
            seq,
            eid,
            username,
            name,
            verb,
            obj,
            r.get("score", ""),
            r.get("success", ""),
            r.get("completion", ""),
            r.get("duration_s", ""),
            r.get("position_s", ""),
            "" if response is None else json.dumps(response, ensure_ascii=False),
            local_text(client_ts, zone_name, seconds=True) if client_ts else "",
            local_text(server_ts, zone_name, seconds=True),
            boot,
        ]
