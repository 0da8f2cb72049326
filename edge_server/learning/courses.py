"""What a learner sees: their courses with progress, course outlines, items, "continue".

A learner may open a course when it is open or assigned to one of their cohorts;
instructors and admins may open every course (to preview it). Every function here is
used by both the pages and ``/api/v1``, with a fixed small number of queries (the learner
home, course and item pages are the hot pages of a site).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from content_packs.models import Course, Item, Module, title

from ..db import db
from ..errors import N_, NotFound
from ..models import User
from .models import DONE

TYPES_WITH_ICONS = ("lesson", "video", "audio", "pdf", "image", "quiz", "html5")


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


def _courses_sql(user: User, course_key: str | None = None) -> tuple[str, list[Any]]:
    """SQL for the courses ``user`` may open, with the earliest due date of their cohorts."""
    sql = (
        "SELECT c.key, c.title_km, c.title_en, c.description_km, c.description_en, c.open, "
        "MIN(a.due_date) FROM courses c LEFT JOIN course_assignments a ON a.course = c.key "
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


def _item_statuses(user_id: int, course_keys: list[str], lang: str) -> dict[str, list[tuple]]:
    """Return, per course key, (module key, module title, ItemStatus) in course order."""
    if not course_keys:
        return {}
    marks = ",".join("?" * len(course_keys))
    sql = (
        "SELECT c.key, m.key, m.title_km, m.title_en, i.key, i.type, i.title_km, i.title_en, "  # noqa: S608 - placeholders only
        "i.required, i.duration_s, p.status, p.score, p.time_s, p.attempts, p.position_s "
        "FROM items i JOIN modules m ON m.id = i.module_id JOIN courses c ON c.id = i.course_id "
        "LEFT JOIN progress p ON p.user_id = ? AND p.item = i.key "
        f"WHERE c.key IN ({marks}) ORDER BY c.key, m.position, m.id, i.position, i.id"
    )
    out: dict[str, list[tuple]] = {k: [] for k in course_keys}
    for row in db.execute_sql(sql, [user_id, *course_keys]):
        ckey, mkey, mkm, men, ikey, itype, ikm, ien, req, dur, st, score, time_s, att, pos = row
        item = ItemStatus(
            ikey,
            itype,
            (ien if lang == "en" and ien else ikm) or ien,
            bool(req),
            dur,
            st or "not_started",
            score,
            time_s or 0,
            att or 0,
            pos,
        )
        out[ckey].append((mkey, (men if lang == "en" and men else mkm) or men, item))
    return out


def _fill(course: CourseSummary, rows: list[tuple]) -> CourseSummary:
    for mkey, mtitle, item in rows:
        if not course.modules or course.modules[-1].key != mkey:
            course.modules.append(ModuleOutline(mkey, mtitle))
        course.modules[-1].items.append(item)
        course.items.append(item)
    return course


def _pick(km: str, en: str, lang: str) -> str:
    return (en if lang == "en" and en else km) or en


def my_courses(user: User, lang: str) -> list[CourseSummary]:
    """Return the courses ``user`` may open with their progress (two queries)."""
    sql, params = _courses_sql(user)
    courses = [
        CourseSummary(key, _pick(tkm, ten, lang), _pick(dkm, den, lang), bool(is_open), due)
        for key, tkm, ten, dkm, den, is_open, due in db.execute_sql(sql, params)
    ]
    rows = _item_statuses(user.id, [c.key for c in courses], lang)
    return [_fill(c, rows[c.key]) for c in courses]


def course_outline(user: User, course_key: str, lang: str) -> CourseSummary:
    """Return one course with modules, items and ``user``'s status of each.

    Raises:
        CourseNotFound: no such course, or ``user`` may not open it.
    """
    sql, params = _courses_sql(user, course_key)
    row = db.execute_sql(sql, params).fetchone()
    if row is None:
        raise CourseNotFound(N_("There is no course %(course)s for you"), course=course_key)
    key, tkm, ten, dkm, den, is_open, due = row
    course = CourseSummary(key, _pick(tkm, ten, lang), _pick(dkm, den, lang), bool(is_open), due)
    return _fill(course, _item_statuses(user.id, [key], lang)[key])


@dataclass
class ItemPage:
    item: Item
    course: Course
    module: Module
    title: str
    data: dict[str, Any]
    outline: CourseSummary

    @property
    def mine(self) -> ItemStatus:
        """Return the learner's status on this item (from the outline)."""
        return next(i for i in self.outline.items if i.key == self.item.key)

    @property
    def neighbours(self) -> tuple[ItemStatus | None, ItemStatus | None]:
        keys = [i.key for i in self.outline.items]
        at = keys.index(self.item.key)
        items = self.outline.items
        return (items[at - 1] if at else None, items[at + 1] if at + 1 < len(items) else None)


def item_page(user: User, item_key: str, lang: str) -> ItemPage:
    """Return an item with its course, ``user``'s progress on it and the course outline.

    Raises:
        ItemNotFound: no such item, or ``user`` may not open its course.
    """
    row = (
        Item.select(Item, Module, Course)
        .join(Module, on=(Item.module == Module.id))
        .switch(Item)
        .join(Course, on=(Item.course == Course.id))
        .where(Item.key == item_key)
        .first()
    )
    missing = ItemNotFound(N_("There is no item %(item)s for you"), item=item_key)
    if row is None:
        raise missing
    try:
        outline = course_outline(user, row.course.key, lang)
    except CourseNotFound as exc:
        raise missing from exc
    return ItemPage(
        row, row.course, row.module, title(row, lang), json.loads(row.data or "{}"), outline
    )
