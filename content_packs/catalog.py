"""What the installed packs hold, as the rest of Kru reads it: courses' catalogs, items' facts
and records, stored files' names.

The pack tables belong to this package: other parts call these functions (or build one query
from ``content_packs.models`` where a hot page must join), never SQL of their own.

A course's catalog (modules, items, titles, types, order) only changes when its pack is
installed, upgraded or removed, so it is kept in memory per course, language and pack version
(``Catalog``); whoever reads a course row reads its version with it (``VERSION``) and asks
``catalog``, which loads the catalog again only when the version changed. Several server
processes stay correct because each checks the version in the database, not a signal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from peewee import SQL

from edge_server.base.db import compiled, db

from .frameworks import Framework, named_codes, resolve
from .frameworks import parse as fw_parse
from .models import Course, Pack

# Catalogs kept in memory at most; a site has a handful of courses in two languages.
CACHE_LIMIT = 256

# The pack version of a course row joined with its pack: changes whenever the pack is
# installed, upgraded or removed.
_COLON = SQL("':'")
VERSION = (
    Pack.pack_id.concat(_COLON)
    .concat(Pack.manifest_sha256)
    .concat(_COLON)
    .concat(Pack.installed_at)
    .concat(_COLON)
    .concat(Pack.id)
)


def localized(km: str, en: str, lang: str) -> str:
    """Return the English text when ``lang`` is English and there is one, else the Khmer."""
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
            modules.append((mkey, localized(mkm, men, lang)))
        items.append(
            CatalogItem(ikey, itype, localized(ikm, ien, lang), bool(req), dur, len(modules) - 1)
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
    rows = db.execute_sql(_versions_sql(len(course_keys)), list(course_keys))
    return {key: catalog(key, cid, version, lang) for key, cid, version in rows}


@cache
def _versions_sql(keys: int) -> str:
    return compiled(
        Course.select(Course.key, Course.id, VERSION)
        .join(Pack)
        .where(Course.key.in_([SQL("?")] * keys))
    )


def courses_in_order() -> list[tuple[str, bool]]:
    """Return (key, open) of every installed course, in catalog order (one query)."""
    sql = "SELECT key, open FROM courses ORDER BY position, id"
    return [(key, bool(is_open)) for key, is_open in db.execute_sql(sql)]


def pack_courses(pack_id: str, lang: str) -> list[tuple[str, str, bool]]:
    """Return (key, title in ``lang``, open) of each course of installed pack ``pack_id``."""
    rows = (
        Course.select(Course.key, Course.title_km, Course.title_en, Course.open)
        .join(Pack)
        .where(Pack.pack_id == pack_id)
        .order_by(Course.position, Course.id)
    )
    return [(c.key, localized(c.title_km, c.title_en, lang), bool(c.open)) for c in rows]


def course_titles(course_keys: list[str], lang: str) -> dict[str, str]:
    """Return the title in ``lang`` of each installed course of ``course_keys`` (one query)."""
    if not course_keys:
        return {}
    marks = ",".join("?" * len(course_keys))
    sql = f"SELECT key, title_km, title_en FROM courses WHERE key IN ({marks})"  # noqa: S608
    return {k: localized(km, en, lang) for k, km, en in db.execute_sql(sql, list(course_keys))}


class ItemFacts(NamedTuple):
    """What the learning rules need to know of an item."""

    type: str
    course: str  # the course key
    course_open: bool
    quiz: str | None  # a quiz's data (JSON); None for other types


def item_facts(keys: Iterable[str] | None = None) -> dict[str, ItemFacts]:
    """Return the facts of the items ``keys`` (None: every item), by key (one query)."""
    sql = (
        "SELECT i.key, i.type, c.key, c.open, CASE WHEN i.type = 'quiz' THEN i.data END "
        "FROM items i JOIN courses c ON c.id = i.course_id"
    )
    params: list[str] = []
    if keys is not None:
        params = sorted(set(keys))
        if not params:
            return {}
        sql += f" WHERE i.key IN ({','.join('?' * len(params))})"
    return {k: ItemFacts(t, ck, bool(o), d) for k, t, ck, o, d in db.execute_sql(sql, params)}


def item_data(keys: Iterable[str]) -> dict[str, str]:
    """Return the type-specific data (JSON text) of the items ``keys``, by key (one query)."""
    params = sorted(set(keys))
    if not params:
        return {}
    marks = ",".join("?" * len(params))
    return dict(db.execute_sql(f"SELECT key, data FROM items WHERE key IN ({marks})", params))  # noqa: S608


def item_records(
    keys: Iterable[str],
) -> dict[str, tuple[str, str, str, str, str, str, str, int, bool]]:
    """Return the installed items among ``keys`` as the sync protocol describes them, by key:
    (key, type, title_km, title_en, course key, course title_km, course title_en, number of
    items that count towards the course, whether this item counts); one query.

    What counts towards a course is the site's rule (docs/progress-rules.md): its required
    items, or all its items when none is required. Central divides by this count.
    """
    sql = (
        "SELECT i.key, i.type, i.title_km, i.title_en, c.key, c.title_km, c.title_en, "
        "(SELECT COUNT(*) FROM items r WHERE r.course_id = c.id AND r.required), "
        "(SELECT COUNT(*) FROM items r WHERE r.course_id = c.id), i.required "
        "FROM items i JOIN courses c ON c.id = i.course_id "
        "WHERE i.key IN (SELECT value FROM json_each(?))"
    )
    rows = db.execute_sql(sql, (json.dumps(sorted(set(keys))),))
    return {row[0]: (*row[:7], row[7] or row[8], bool(row[9] or not row[7])) for row in rows}


def file_name(sha256: str) -> str | None:
    """Return the path inside its pack of the stored file ``sha256``, or None (one query)."""
    row = db.execute_sql(
        "SELECT path FROM pack_files WHERE sha256 = ? LIMIT 1", (sha256,)
    ).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class CompetencyData:
    """The competency frameworks of the installed packs and what their items name (issue 16)."""

    frameworks: dict[str, Framework]  # prefix -> the framework that wins (``frameworks.resolve``)
    item_codes: dict[str, tuple[str, ...]]  # item key -> codes of its ``competencies``
    named_items: frozenset[str]  # items naming a competency, themselves or in a rubric


# database file -> (versions of the installed packs, their competency data)
_competencies: dict[str, tuple[str, CompetencyData]] = {}


def competency_data() -> CompetencyData:
    """Return the installed frameworks and the competencies items name, from memory while no
    pack was installed, upgraded or removed (one query), else from the packs' manifests."""
    versions = "|".join(
        str(v) for (v,) in db.execute_sql(compiled(Pack.select(VERSION).order_by(Pack.id)))
    )
    kept = _competencies.get(db.database)
    if kept is not None and kept[0] == versions:
        return kept[1]
    found: list[Framework] = []
    item_codes: dict[str, tuple[str, ...]] = {}
    named: set[str] = set()
    rows = Pack.select(Pack.pack_id, Pack.manifest).order_by(Pack.installed_at, Pack.id)
    for pack_id, text in rows.tuples().iterator():
        manifest = json.loads(text or "{}")
        found += [fw_parse(raw, pack_id) for raw in manifest.get("frameworks") or []]
        for course in manifest.get("courses") or []:
            for module in course.get("modules") or []:
                for item in module.get("items") or []:
                    if item.get("competencies"):
                        item_codes[f"{pack_id}/{item['slug']}"] = tuple(item["competencies"])
        named |= {f"{pack_id}/{slug}" for slug, _code in named_codes(manifest)}
    data = CompetencyData(resolve(found), item_codes, frozenset(named))
    _competencies[db.database] = (versions, data)
    return data
