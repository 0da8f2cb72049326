"""What a learner sees: their courses with progress, course outlines, items, "continue".

A learner may open a course when it is open or assigned to one of their cohorts;
instructors and admins may open every course (to preview it). Every function here is
used by both the pages and ``/api/v1``, with a fixed small number of queries (the learner
home, course and item pages are the hot pages of a site).

The catalog part of a course (modules, items, titles, types, order) belongs to the packs
and is kept in memory per pack version (``content_packs.catalog``); each request reads the
pack version with the course row it needs anyway and merges in only the learner's progress
rows. The one query a page needs across packs, cohorts and progress is built from their
owners' models, so each dependency is an import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from operator import attrgetter
from typing import Any

from peewee import JOIN, SQL, fn

from content_packs.catalog import VERSION, Catalog, CatalogItem, catalog, localized
from content_packs.models import Course, Item, Pack

from ..accounts.models import CohortMember, User
from ..base.db import as_one_row, compiled, db, rows_of
from ..base.errors import N_, NotFound
from . import models
from .models import Assignment
from .progress import counted_items, is_done, percent


class CourseNotFound(NotFound):
    code = "course_not_found"


class ItemNotFound(NotFound):
    code = "item_not_found"


@dataclass
class ItemStatus:
    key: str
    type: str
    title: str
    required: bool
    duration_s: int | None
    status: str = "not_started"
    score: float | None = None
    time_s: int = 0
    attempts: int = 0
    position_s: float | None = None

    @property
    def done(self) -> bool:
        return is_done(self.status)

    def json(self) -> dict[str, Any]:
        return {
            "id": self.key,
            "type": self.type,
            "title": self.title,
            "required": self.required,
            "duration_s": self.duration_s,
            "status": self.status,
            "score": self.score,
            "time_s": self.time_s,
            "attempts": self.attempts,
        }


@dataclass
class ModuleOutline:
    key: str
    title: str
    items: list[ItemStatus] = field(default_factory=list)


@dataclass
class CourseSummary:
    key: str
    title: str
    description: str
    open: bool
    due_date: str | None
    items: list[ItemStatus] = field(default_factory=list)
    modules: list[ModuleOutline] = field(default_factory=list)
    catalog: Catalog | None = field(default=None, repr=False)  # what items were made from
    _required: tuple[list[ItemStatus], list[ItemStatus]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def required(self) -> list[ItemStatus]:
        """The items that decide the course, found once per ``items`` list (a page asks for
        them several times per course)."""
        kept = self._required
        if kept is None or kept[0] is not self.items:
            kept = self._required = (
                self.items,
                list(counted_items(self.items, attrgetter("required"))),
            )
        return kept[1]

    def tally(self) -> tuple[int, int]:
        """Return (required items done, required items), counted once (``percent`` and
        ``completed`` follow from them)."""
        required = self.required
        return sum(1 for i in required if i.done), len(required)

    @property
    def done_count(self) -> int:
        return self.tally()[0]

    @property
    def percent(self) -> int:
        return percent(self.done_count, len(self.required))

    @property
    def completed(self) -> bool:
        return bool(self.required) and all(i.done for i in self.required)

    @property
    def started(self) -> bool:
        return any(i.status != "not_started" for i in self.items)

    @property
    def time_s(self) -> int:
        return sum(i.time_s for i in self.items)

    @property
    def next_item(self) -> ItemStatus | None:
        """Return the item to continue with: the first unfinished required item, else any."""
        for pool in (self.required, self.items):
            for item in pool:
                if not item.done:
                    return item
        return None

    def json(self, with_items: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.key,
            "title": self.title,
            "description": self.description,
            "open": self.open,
            "due_date": self.due_date,
            "items_required": len(self.required),
            "items_done": self.done_count,
            "percent": self.percent,
            "completed": self.completed,
            "time_s": self.time_s,
            "next_item": self.next_item.key if self.next_item else None,
        }
        if with_items:
            body["modules"] = [
                {"id": m.key, "title": m.title, "items": [i.json() for i in m.items]}
                for m in self.modules
            ]
        return body


# The queries of the hot pages, built once from the owners' models; "?" are the parameters.
_VALUE = SQL("?")


def _courses_query(one_course: bool, learner: bool, *extra: Any) -> Any:
    my_cohorts = CohortMember.select(CohortMember.cohort).where(CohortMember.user == _VALUE)
    query = (
        Course.select(
            Course.key,
            Course.title_km,
            Course.title_en,
            Course.description_km,
            Course.description_en,
            Course.open,
            fn.MIN(Assignment.due_date),
            Course.id,
            VERSION,
            *extra,
        )
        .join(Pack)
        .switch(Course)
        .join(
            Assignment,
            JOIN.LEFT_OUTER,
            on=(Assignment.course == Course.key) & Assignment.cohort.in_(my_cohorts),
        )
    )
    if one_course:
        query = query.where(Course.key == _VALUE)
    if learner:
        query = query.where((Course.open == SQL("1")) | Assignment.id.is_null(False))
    return query.group_by(Course.id)


@cache
def _courses_sql(one_course: bool, learner: bool) -> str:
    """SQL of the courses a user (parameter 1) may open, with the earliest due date of their
    cohorts, the course id and its pack version; ``one_course``: the course key is parameter 2.
    """
    return compiled(_courses_query(one_course, learner).order_by(Course.position, Course.id))


_COURSE_COLUMNS = ("key", "title_km", "title_en", "desc_km", "desc_en", "open", "due", "cid", "ver")
_PROGRESS_COLUMNS = ("item", "status", "score", "time_s", "attempts", "position_s")


@cache
def _courses_and_progress_sql(one_course: bool, learner: bool) -> str:
    """SQL of ``_courses_sql``'s courses and the user's progress on their items, in one row of
    two JSON arrays. Parameters: ``_courses_sql``'s, then the user again.

    One query instead of two: under load each query hands Python's lock to other threads
    around its steps, about a tenth of the learner home's time (issue 22).
    """
    p = models.Progress
    progress = compiled(
        p.select(p.item, p.status, p.score, p.time_s, p.attempts, p.position_s)
        .join(Item, on=Item.key == p.item)
        .where((p.user_id == _VALUE) & Item.course.in_(SQL("(SELECT cid FROM mine)")))
    )
    mine = compiled(_courses_query(one_course, learner, Course.position))
    names = ", ".join(_COURSE_COLUMNS)
    # The program's own SQL and column names, never a request's values.
    return (
        f"WITH mine({names}, pos) AS MATERIALIZED ({mine}) "  # noqa: S608
        f"SELECT (SELECT json_group_array(json_array({names})) "
        f"FROM (SELECT * FROM mine ORDER BY pos, cid)), ({as_one_row(progress, _PROGRESS_COLUMNS)})"
    )


@cache
def _assigned_sql() -> str:
    return compiled(
        Assignment.select(Assignment.course)
        .join(CohortMember, on=CohortMember.cohort == Assignment.cohort)
        .where(CohortMember.user == _VALUE)
    )


def assigned_course_keys(user: User) -> set[str]:
    """Return the keys of courses assigned to any cohort of ``user`` (one query)."""
    return {row[0] for row in db.execute_sql(_assigned_sql(), [user.id])}


Progress = tuple[str, float | None, int, int, float | None]  # status, score, time, attempts, pos


@cache
def _progress_sql(courses: int) -> str:
    p = models.Progress
    return as_one_row(
        compiled(
            p.select(p.item, p.status, p.score, p.time_s, p.attempts, p.position_s)
            .join(Item, on=Item.key == p.item)
            .where((p.user_id == _VALUE) & Item.course.in_([_VALUE] * courses))
        ),
        ("item", "status", "score", "time_s", "attempts", "position_s"),
    )


def progress_rows(user_id: int, course_ids: list[int]) -> dict[str, Progress]:
    """Return ``user_id``'s progress on the items of ``course_ids``, by item key (one query)."""
    if not course_ids:
        return {}
    return _progress(rows_of(_progress_sql(len(course_ids)), [user_id, *course_ids]))


def statuses(cat: Catalog, progress: dict[str, Progress]) -> list[ItemStatus]:
    """Return an ItemStatus per item of ``cat`` with the progress found in ``progress``."""
    out = []
    for ci in cat.items:
        mine = progress.get(ci.key)
        if mine is None:
            out.append(ItemStatus(ci.key, ci.type, ci.title, ci.required, ci.duration_s))
        else:
            out.append(ItemStatus(ci.key, ci.type, ci.title, ci.required, ci.duration_s, *mine))
    return out


def _fill(course: CourseSummary, cat: Catalog, progress: dict[str, Progress]) -> CourseSummary:
    course.catalog = cat
    course.items = statuses(cat, progress)
    course.modules = [ModuleOutline(key, mtitle) for key, mtitle in cat.modules]
    for ci, item in zip(cat.items, course.items, strict=True):
        course.modules[ci.module].items.append(item)
    return course


def _course_summaries(rows: Any, lang: str) -> list[tuple[CourseSummary, int, str]]:
    """Return (summary, course id, pack version) of each row of ``_COURSE_COLUMNS``."""
    return [
        (
            CourseSummary(key, localized(tkm, ten, lang), localized(dkm, den, lang), bool(op), due),
            cid,
            ver,
        )
        for key, tkm, ten, dkm, den, op, due, cid, ver in rows
    ]


def _summaries(
    user: User, lang: str, course_key: str | None = None
) -> list[tuple[CourseSummary, int, str]]:
    rows = db.execute_sql(
        _courses_sql(course_key is not None, user.role == "learner"),
        [user.id] if course_key is None else [user.id, course_key],
    )
    return _course_summaries(rows, lang)


def _one_course(user: User, course_key: str, lang: str) -> tuple[CourseSummary, int, Catalog]:
    return _the_course(_summaries(user, lang, course_key), course_key, lang)


def _the_course(
    found: list[tuple[CourseSummary, int, str]], course_key: str, lang: str
) -> tuple[CourseSummary, int, Catalog]:
    if not found:
        raise CourseNotFound(N_("There is no course %(course)s for you"), course=course_key)
    course, cid, version = found[0]
    return course, cid, catalog(course_key, cid, version, lang)


def _progress(rows: list[list[Any]]) -> dict[str, Progress]:
    return {
        item: (st or "not_started", score, time_s or 0, att or 0, pos)
        for item, st, score, time_s, att, pos in rows
    }


def _courses_with_progress(
    user: User, lang: str, course_key: str | None = None
) -> tuple[list[tuple[CourseSummary, int, str]], dict[str, Progress]]:
    """Return the courses ``user`` may open (or the one ``course_key``) and ``user``'s
    progress on their items, by item key (one query)."""
    sql = _courses_and_progress_sql(course_key is not None, user.role == "learner")
    params = [user.id] if course_key is None else [user.id, course_key]
    courses_json, progress_json = db.execute_sql(sql, [*params, user.id]).fetchone()
    return _course_summaries(json.loads(courses_json), lang), _progress(json.loads(progress_json))


def my_courses(user: User, lang: str) -> list[CourseSummary]:
    """Return the courses ``user`` may open with their progress (one query)."""
    found, progress = _courses_with_progress(user, lang)
    return [_fill(c, catalog(c.key, cid, ver, lang), progress) for c, cid, ver in found]


@dataclass(slots=True)
class CourseCard:
    """What the learner home shows of a course: ``CourseSummary``'s tally, "started",
    "completed" and item to continue with, counted without an ``ItemStatus`` per item
    (making those was a fifth of the learner home, issue 22)."""

    key: str
    title: str
    due_date: str | None
    done: int
    total: int
    started: bool
    next_item: CatalogItem | None

    def tally(self) -> tuple[int, int]:
        """Return (required items done, required items), as ``CourseSummary.tally``."""
        return self.done, self.total

    @property
    def completed(self) -> bool:
        return self.total > 0 and self.done == self.total


def _card(course: CourseSummary, cat: Catalog, progress: dict[str, Progress]) -> CourseCard:
    """Return ``course``'s card from its catalog and the learner's progress by item key."""
    done = done_any = required = 0
    started = False
    next_required = next_any = None
    for ci in cat.items:
        mine = progress.get(ci.key)
        status = "not_started" if mine is None else mine[0]
        finished = is_done(status)
        if status != "not_started":
            started = True
        if finished:
            done_any += 1
        elif next_any is None:
            next_any = ci
        if ci.required:
            required += 1
            if finished:
                done += 1
            elif next_required is None:
                next_required = ci
    if not required:  # no item is required: every item counts (``counted_items``)
        done, required = done_any, len(cat.items)
    return CourseCard(
        course.key,
        course.title,
        course.due_date,
        done,
        required,
        started,
        next_required or next_any,
    )


def course_cards(user: User, lang: str) -> list[CourseCard]:
    """Return the card of each course ``user`` may open, in ``my_courses``' order (one
    query)."""
    found, progress = _courses_with_progress(user, lang)
    return [_card(c, catalog(c.key, cid, ver, lang), progress) for c, cid, ver in found]


@dataclass(slots=True)
class CoursePage:
    """What the course page shows: the course's card, description and catalog, and the
    learner's status of each item they have progress on (``"not_started"`` for the rest),
    without an ``ItemStatus`` per item (issue 22)."""

    card: CourseCard
    description: str
    catalog: Catalog
    statuses: dict[str, str]


def course_page(user: User, course_key: str, lang: str) -> CoursePage:
    """Return what ``course_outline`` tells of a course, as the course page needs it (one
    query).

    Raises:
        CourseNotFound: no such course, or ``user`` may not open it.
    """
    found, progress = _courses_with_progress(user, lang, course_key)
    course, _cid, cat = _the_course(found, course_key, lang)
    statuses = {key: mine[0] for key, mine in progress.items()}
    return CoursePage(_card(course, cat, progress), course.description, cat, statuses)


def course_outline(user: User, course_key: str, lang: str) -> CourseSummary:
    """Return one course with modules, items and ``user``'s status of each (one query).

    Raises:
        CourseNotFound: no such course, or ``user`` may not open it.
    """
    found, progress = _courses_with_progress(user, lang, course_key)
    course, _cid, cat = _the_course(found, course_key, lang)
    return _fill(course, cat, progress)


@dataclass
class ItemContent:
    """What an item page shows of the item itself."""

    key: str
    type: str
    duration_s: int | None
    required: bool
    body: str


@dataclass
class ItemPage:
    item: ItemContent
    course: CourseSummary  # title and key only, without items
    title: str
    data: dict[str, Any]
    mine: ItemStatus
    neighbours: tuple[CatalogItem | None, CatalogItem | None]


@cache
def _item_sql() -> str:
    """SQL of an item (parameter 2) with its course's key and a user's (parameter 1) progress."""
    p = models.Progress
    return compiled(
        Item.select(
            Item.key,
            Item.type,
            Item.title_km,
            Item.title_en,
            Item.duration_s,
            Item.required,
            Item.body,
            Item.data,
            Course.key,
            p.status,
            p.score,
            p.time_s,
            p.attempts,
            p.position_s,
        )
        .join(Course, on=Course.id == Item.course)
        .switch(Item)
        .join(p, JOIN.LEFT_OUTER, on=(p.user_id == _VALUE) & (p.item == Item.key))
        .where(Item.key == _VALUE)
    )


def item_page(user: User, item_key: str, lang: str) -> ItemPage:
    """Return an item with its course, ``user``'s progress on it and its neighbours in the
    course (two queries).

    Raises:
        ItemNotFound: no such item, or ``user`` may not open its course.
    """
    row = db.execute_sql(_item_sql(), [user.id, item_key]).fetchone()
    if row is None:
        raise ItemNotFound(N_("There is no item %(item)s for you"), item=item_key)
    key, kind, tkm, ten, duration, required, body, data, course_key = row[:9]
    status, score, time_s, attempts, position = row[9:]
    try:
        course, _cid, cat = _one_course(user, course_key, lang)
    except CourseNotFound as exc:
        raise ItemNotFound(N_("There is no item %(item)s for you"), item=item_key) from exc
    item_title = localized(tkm, ten, lang)
    mine = ItemStatus(
        key,
        kind,
        item_title,
        bool(required),
        duration,
        status or "not_started",
        score,
        time_s or 0,
        attempts or 0,
        position,
    )
    neighbours = cat.neighbours(key) if key in cat.index else (None, None)
    return ItemPage(
        ItemContent(key, kind, duration, bool(required), body or ""),
        course,
        item_title,
        json.loads(data or "{}"),
        mine,
        neighbours,
    )
