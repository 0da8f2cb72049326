"""What a learner sees: their courses with progress, course outlines, items, "continue".

A learner may open a course when it is open or assigned to one of their cohorts;
instructors and admins may open every course (to preview it). Every function here is
used by both the pages and ``/api/v1``, with a fixed small number of queries (the learner
home, course and item pages are the hot pages of a site).

The catalog part of a course (modules, items, titles, types, order) only changes when its
pack is installed, upgraded or removed, so it is kept in memory per course, language and
pack version (``Catalog``); each request reads the pack version with the course row it
needs anyway and merges in only the learner's progress rows. Several server processes
stay correct because each checks the version in the database, not a signal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..db import db
from ..errors import N_, NotFound
from ..models import User
from .models import DONE

TYPES_WITH_ICONS = ("lesson", "video", "audio", "pdf", "image", "quiz", "html5", "task")
# Catalogs kept in memory at most; a site has a handful of courses in two languages.
CACHE_LIMIT = 256


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
        return self.status in DONE

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

    @property
    def required(self) -> list[ItemStatus]:
        return [i for i in self.items if i.required] or self.items

    @property
    def done_count(self) -> int:
        return sum(1 for i in self.required if i.done)

    @property
    def percent(self) -> int:
        total = len(self.required)
        return int(100 * self.done_count / total) if total else 0

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


def _pick(km: str, en: str, lang: str) -> str:
    return (en if lang == "en" and en else km) or en


@dataclass(frozen=True, slots=True)
class CatalogItem:
    key: str
    type: str
    title: str
    required: bool
    duration_s: int | None
    module: int  # index into Catalog.modules


@dataclass(frozen=True, eq=False)
class Catalog:
    """The learner-independent part of a course outline, in course order, in one language."""

    course_id: int
    modules: tuple[tuple[str, str], ...]  # (key, title)
    items: tuple[CatalogItem, ...]
    index: dict[str, int]  # item key -> position in items

    def neighbours(self, item_key: str) -> tuple[CatalogItem | None, CatalogItem | None]:
        """Return the items before and after ``item_key`` in the course (None at the ends)."""
        at = self.index[item_key]
        items = self.items
        return (items[at - 1] if at else None, items[at + 1] if at + 1 < len(items) else None)


# (database file, course key, language) -> (pack version, catalog)
_catalogs: dict[tuple[str, str, str], tuple[str, Catalog]] = {}

# The pack version of a course: changes whenever its pack is installed, upgraded or removed.
_VERSION = "p.pack_id || ':' || p.manifest_sha256 || ':' || p.installed_at || ':' || p.id"

_CATALOG_SQL = (
    "SELECT m.key, m.title_km, m.title_en, i.key, i.type, i.title_km, i.title_en, i.required, "
    "i.duration_s FROM items i JOIN modules m ON m.id = i.module_id WHERE i.course_id = ? "
    "ORDER BY m.position, m.id, i.position, i.id"
)


def _load_catalog(course_id: int, lang: str) -> Catalog:
    modules: list[tuple[str, str]] = []
    items: list[CatalogItem] = []
    for mkey, mkm, men, ikey, itype, ikm, ien, req, dur in db.execute_sql(
        _CATALOG_SQL, [course_id]
    ):
        if not modules or modules[-1][0] != mkey:
            modules.append((mkey, _pick(mkm, men, lang)))
        items.append(
            CatalogItem(ikey, itype, _pick(ikm, ien, lang), bool(req), dur, len(modules) - 1)
        )
    return Catalog(
        course_id, tuple(modules), tuple(items), {item.key: n for n, item in enumerate(items)}
    )


def catalog(course_key: str, course_id: int, version: str, lang: str) -> Catalog:
    """Return the catalog of a course from memory, loading it (one query) when its pack
    version ``version`` differs from the one kept."""
    cache_key = (db.database, course_key, lang)
    kept = _catalogs.get(cache_key)
    if kept is not None and kept[0] == version:
        return kept[1]
    found = _load_catalog(course_id, lang)
    if len(_catalogs) >= CACHE_LIMIT:
        _catalogs.clear()
    _catalogs[cache_key] = (version, found)
    return found


def catalogs(course_keys: list[str], lang: str) -> dict[str, Catalog]:
    """Return the catalogs of ``course_keys`` that exist, by key (one query, plus one per
    course not in memory)."""
    if not course_keys:
        return {}
    marks = ",".join("?" * len(course_keys))
    sql = (
        f"SELECT c.key, c.id, {_VERSION} FROM courses c JOIN packs p ON p.id = c.pack_id "  # noqa: S608 - placeholders only
        f"WHERE c.key IN ({marks})"
    )
    return {
        key: catalog(key, cid, version, lang)
        for key, cid, version in db.execute_sql(sql, list(course_keys))
    }


def _courses_sql(user: User, course_key: str | None = None) -> tuple[str, list[Any]]:
    """SQL for the courses ``user`` may open, with the earliest due date of their cohorts,
    the course id and its pack version."""
    sql = (
        "SELECT c.key, c.title_km, c.title_en, c.description_km, c.description_en, c.open, "  # noqa: S608 - constant
        f"MIN(a.due_date), c.id, {_VERSION} FROM courses c JOIN packs p ON p.id = c.pack_id "
        "LEFT JOIN course_assignments a ON a.course = c.key "
        "AND a.cohort_id IN (SELECT cohort_id FROM cohort_members WHERE user_id = ?) "
    )
    params: list[Any] = [user.id]
    where = []
    if course_key is not None:
        where.append("c.key = ?")
        params.append(course_key)
    if user.role == "learner":
        where.append("(c.open = 1 OR a.id IS NOT NULL)")
    if where:
        sql += "WHERE " + " AND ".join(where) + " "
    return sql + "GROUP BY c.id ORDER BY c.position, c.id", params


def assigned_course_keys(user: User) -> set[str]:
    """Return the keys of courses assigned to any cohort of ``user`` (one query)."""
    sql = (
        "SELECT a.course FROM course_assignments a JOIN cohort_members m "
        "ON m.cohort_id = a.cohort_id WHERE m.user_id = ?"
    )
    return {row[0] for row in db.execute_sql(sql, [user.id])}


def can_open(user: User, course_key: str, is_open: bool) -> bool:
    """Return whether ``user`` may open a course."""
    if user.role != "learner" or is_open:
        return True
    return course_key in assigned_course_keys(user)


Progress = tuple[str, float | None, int, int, float | None]  # status, score, time, attempts, pos


def progress_rows(user_id: int, course_ids: list[int]) -> dict[str, Progress]:
    """Return ``user_id``'s progress on the items of ``course_ids``, by item key (one query)."""
    if not course_ids:
        return {}
    marks = ",".join("?" * len(course_ids))
    sql = (
        "SELECT p.item, p.status, p.score, p.time_s, p.attempts, p.position_s FROM progress p "  # noqa: S608 - placeholders only
        f"JOIN items i ON i.key = p.item WHERE p.user_id = ? AND i.course_id IN ({marks})"
    )
    return {
        item: (st or "not_started", score, time_s or 0, att or 0, pos)
        for item, st, score, time_s, att, pos in db.execute_sql(sql, [user_id, *course_ids])
    }


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


def _summaries(
    user: User, lang: str, course_key: str | None = None
) -> list[tuple[CourseSummary, int, str]]:
    sql, params = _courses_sql(user, course_key)
    return [
        (CourseSummary(key, _pick(tkm, ten, lang), _pick(dkm, den, lang), bool(op), due), cid, ver)
        for key, tkm, ten, dkm, den, op, due, cid, ver in db.execute_sql(sql, params)
    ]


def my_courses(user: User, lang: str) -> list[CourseSummary]:
    """Return the courses ``user`` may open with their progress (two queries)."""
    found = _summaries(user, lang)
    progress = progress_rows(user.id, [cid for _c, cid, _v in found])
    return [_fill(c, catalog(c.key, cid, ver, lang), progress) for c, cid, ver in found]


def _one_course(user: User, course_key: str, lang: str) -> tuple[CourseSummary, int, Catalog]:
    found = _summaries(user, lang, course_key)
    if not found:
        raise CourseNotFound(N_("There is no course %(course)s for you"), course=course_key)
    course, cid, version = found[0]
    return course, cid, catalog(course_key, cid, version, lang)


def course_outline(user: User, course_key: str, lang: str) -> CourseSummary:
    """Return one course with modules, items and ``user``'s status of each (two queries).

    Raises:
        CourseNotFound: no such course, or ``user`` may not open it.
    """
    course, cid, cat = _one_course(user, course_key, lang)
    return _fill(course, cat, progress_rows(user.id, [cid]))


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


_ITEM_SQL = (
    "SELECT i.key, i.type, i.title_km, i.title_en, i.duration_s, i.required, i.body, i.data, "
    "c.key, p.status, p.score, p.time_s, p.attempts, p.position_s FROM items i "
    "JOIN courses c ON c.id = i.course_id "
    "LEFT JOIN progress p ON p.user_id = ? AND p.item = i.key WHERE i.key = ?"
)


def item_page(user: User, item_key: str, lang: str) -> ItemPage:
    """Return an item with its course, ``user``'s progress on it and its neighbours in the
    course (two queries).

    Raises:
        ItemNotFound: no such item, or ``user`` may not open its course.
    """
    row = db.execute_sql(_ITEM_SQL, [user.id, item_key]).fetchone()
    missing = ItemNotFound(N_("There is no item %(item)s for you"), item=item_key)
    if row is None:
        raise missing
    key, kind, tkm, ten, duration, required, body, data, course_key = row[:9]
    status, score, time_s, attempts, position = row[9:]
    try:
        course, _cid, cat = _one_course(user, course_key, lang)
    except CourseNotFound as exc:
        raise missing from exc
    item_title = _pick(tkm, ten, lang)
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
