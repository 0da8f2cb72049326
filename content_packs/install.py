"""Install, upgrade and remove packs, all or nothing.

An install holds the data home's pack lock, collects garbage left by a killed install,
validates the whole pack, checks free disk, copies files into the content store (each via
a temporary file, fsync and rename; files already stored are only verified), and then
writes the catalog rows and search index in ONE transaction. A crash before the commit
leaves only unreferenced store files, which the next install or removal deletes.
"""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_server.base import diskspace
from edge_server.base.datahome import DataHome
from edge_server.base.db import db, utcnow
from edge_server.base.errors import N_

from . import search, zipsafe
from .errors import (
    InvalidPack,
    NotEnoughSpace,
    PackConflict,
    PackNotFound,
    PackNotYours,
    Problem,
)
from .lessons import render_lesson
from .manifest import iter_items, mime_for, semver_key
from .models import Course, Item, Module, Pack, PackFile
from .store import ContentStore, install_lock
from .validate import CheckedPack, check_pack

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstallResult:
    pack_id: str
    version: str
    signed: bool
    upgraded_from: str | None = None
    already_installed: bool = False
    files_added: int = 0
    size_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def free_bytes(path: Path) -> int:
    """Return the free bytes of the filesystem holding ``path``."""
    return shutil.disk_usage(path).free


def referenced_shas() -> set[str]:
    """Return the store files in use: installed packs' and the editor's drafts' media."""
    return {
        row[0]
        for row in db.execute_sql(
            "SELECT sha256 FROM pack_files UNION SELECT sha256 FROM authoring_media"
        )
    }


def collect_garbage(home: DataHome) -> int:
    """Delete store files no installed pack uses (holding the pack lock); return the count."""
    with install_lock(home):
        return ContentStore(home).collect_garbage(referenced_shas())


def _check_version(checked: CheckedPack, existing: Pack | None, force: bool) -> None:
    if existing is None or force:
        return
    new, old = semver_key(checked.version), semver_key(existing.version)
    if new < old:
        raise PackConflict(
            N_(
                "Version %(new)s of %(pack)s is older than the installed %(old)s; "
                "use --force (or the force option) to install it anyway"
            ),
            code="pack_downgrade",
            pack=checked.pack_id,
            new=checked.version,
            old=existing.version,
        )
    if new == old and checked.manifest_sha256 != existing.manifest_sha256:
        raise PackConflict(
            N_(
                "Version %(new)s of %(pack)s is installed already with different content; "
                "give the new pack a higher version"
            ),
            code="pack_same_version",
            pack=checked.pack_id,
            new=checked.version,
        )


def _check_competencies(checked: CheckedPack) -> None:
    """Refuse a pack naming competencies an installed framework does not have.

    Raises:
        InvalidPack: a code of an installed framework is no standard or indicator of it.
    """
    from .catalog import competency_data
    from .frameworks import install_problems, unknown_frameworks

    installed = competency_data().frameworks
    problems = install_problems(checked.manifest, installed)
    if problems:
        raise InvalidPack(problems)
    for name in unknown_frameworks(checked.manifest, installed):
        log.warning(
            "pack %s names competencies of the framework %s, which no installed pack holds "
            "yet: they count once its pack is installed",
            checked.pack_id,
            name,
        )


def _check_space(store: ContentStore, checked: CheckedPack, settings: Any) -> None:
    """Refuse a pack that would eat into the disk reserve (issue 19: max of 1 GB and 5 %)."""
    needed = sum(f["size"] for f in checked.files.values() if not store.has(f["sha256"]))
    free = free_bytes(store.home.root)
    reserve = diskspace.reserve_for(store.home.root, settings)
    if needed + reserve > free:
        raise NotEnoughSpace(
            N_(
                "The pack needs %(need)s MB but only %(free)s MB are free on this device; "
                "remove packs you no longer use or free some space"
            ),
            need=max(1, (needed + reserve) // (1024 * 1024)),
            free=free // (1024 * 1024),
        )


def _copy_files(zf: zipfile.ZipFile, store: ContentStore, checked: CheckedPack) -> list[str]:
    """Copy the pack's new files into the store, verifying every file; return shas added.

    Raises:
        InvalidPack: a file's size or sha256 differs from the manifest (nothing is kept).
    """
    added: list[str] = []
    try:
        for path in sorted(checked.files):
            ref = checked.files[path]
            sha = ref["sha256"]
            if store.has(sha) or sha in added:
                digest, size = zipsafe.hash_member(zf, path, ref["size"])
            else:
                with store.writer(sha) as sink:
                    digest, size = zipsafe.hash_member(zf, path, ref["size"], sink)
                    if digest == sha and size == ref["size"]:
                        added.append(sha)
                    else:
                        raise _mismatch(path)
            if digest != sha or size != ref["size"]:
                raise _mismatch(path)
        store.sync_dirs(added)
    except BaseException:
        for sha in added:
            store.remove(sha)
        raise
    return added


def _mismatch(path: str) -> InvalidPack:
    return InvalidPack(
        [
            Problem(
                "checksum_mismatch",
                N_("its sha256 does not match the manifest; the file was changed"),
                path,
            )
        ]
    )


def _file_ref(checked: CheckedPack, path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    f = checked.files[path]
    return {"path": path, "sha256": f["sha256"], "size": f["size"], "mime": mime_for(path)}


def _quiz_data(quiz: dict[str, Any]) -> dict[str, Any]:
    questions = []
    for q in quiz["questions"]:
        question = {
            "id": q["id"],
            "type": q["type"],
            "prompt_km": q.get("prompt_km", ""),
            "prompt_en": q.get("prompt_en", ""),
            "choices": [_choice(c) for c in q.get("choices", [])],
            "answer": q.get("answer"),
            "points": q.get("points", 1),
        }
        if q["type"] == "numeric":
            question["tolerance"] = q.get("tolerance", 0)
        if q["type"] == "short_text":
            question["accept"] = q["accept"]
        if q["type"] == "matching":
            question["pairs"] = [
                {k: p.get(k, "") for k in ("id", "text_km", "text_en", "match_km", "match_en")}
                for p in q["pairs"]
            ]
        for field in ("feedback_correct", "feedback_wrong"):
            for lang in ("km", "en"):
                question[f"{field}_{lang}"] = q.get(f"{field}_{lang}", "")
        questions.append(question)
    return {
        "pass_mark": quiz.get("pass_mark", 0.6),
        "attempts": quiz.get("attempts"),
        "shuffle": quiz.get("shuffle", False),
        "questions": questions,
    }


def _choice(c: dict[str, Any]) -> dict[str, Any]:
    """A choice as stored: feedback only when the pack gives some (packs before issue 17)."""
    out = {"id": c["id"], "text_km": c.get("text_km", ""), "text_en": c.get("text_en", "")}
    for lang in ("km", "en"):
        if c.get(f"feedback_{lang}"):
            out[f"feedback_{lang}"] = c[f"feedback_{lang}"]
    return out


def _task_data(task: dict[str, Any], checked: CheckedPack) -> dict[str, Any]:
    """Return a task's catalog data: its fields, with the instructions rendered to safe HTML."""
    html = {
        lang: render_lesson(text, "markdown", "task.md", _all_refs(checked))[0]
        for lang, text in task["instructions"].items()
        if text
    }
    return {**task, "instructions_html": html, "pass_mark": task.get("pass_mark", 0.6)}


def item_row(
    zf: zipfile.ZipFile, checked: CheckedPack, item: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """Return the catalog fields of one manifest item (body and data) and its search text."""
    kind = item["type"]
    ref = _file_ref(checked, item.get("file"))
    body, text, data = "", "", {}
    if kind == "lesson":
        source = zf.read(item["file"]).decode("utf-8")
        body, text = render_lesson(source, item["format"], item["file"], _all_refs(checked))
        data = {"file": ref, "format": item["format"]}
    elif kind == "video":
        data = {
            "file": ref,
            "captions": [
                {
                    "lang": c["lang"],
                    "label": c.get("label") or c["lang"],
                    "file": _file_ref(checked, c["file"]),
                }
                for c in item.get("captions") or []
            ],
            "poster": _file_ref(checked, item.get("poster")),
        }
    elif kind == "image":
        alt = item.get("alt") or {}
        data = {
            "file": ref,
            "alt": alt.get("km") or alt.get("en") or "",
            "alt_km": alt.get("km", ""),
            "alt_en": alt.get("en", ""),
        }
    elif kind == "html5":
        data = {"file": ref, "entry": item.get("entry") or "index.html"}
        if item.get("scorm"):
            data["scorm"] = item["scorm"]
    elif kind == "quiz":
        data = {"quiz": _quiz_data(item["quiz"])}
    elif kind == "task":
        data = {"task": _task_data(item["task"], checked)}
        text = " ".join(item["task"]["instructions"].values())
    elif kind == "observation":
        form = item["observation"]
        html = {
            lang: render_lesson(text, "markdown", "form.md", _all_refs(checked))[0]
            for lang, text in (form.get("instructions") or {}).items()
            if text
        }
        data = {"observation": {"rubric": form["rubric"], "instructions_html": html}}
    else:
        data = {"file": ref}
    return {"body": body, "data": json.dumps(data, ensure_ascii=False)}, text


def _all_refs(checked: CheckedPack) -> dict[str, dict[str, Any]]:
    cache = getattr(checked, "_refs", None)
    if cache is None:
        cache = {p: _file_ref(checked, p) for p in checked.files}
        checked._refs = cache  # type: ignore[attr-defined]
    return cache


def _upsert(model: Any, existing: dict[str, Any], key: str, fields: dict[str, Any]) -> Any:
    row = existing.pop(key, None)
    if row is None:
        return model.create(key=key, **fields)
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    return row


def _write_catalog(
    checked: CheckedPack,
    existing: Pack | None,
    rows: list[tuple[dict, dict, dict, dict[str, Any], str]],
    installed_by: str | None,
) -> None:
    """Write pack, courses, modules, items, files and search rows (inside a transaction)."""
    m = checked.manifest
    pid = checked.pack_id
    fields = {
        "version": checked.version,
        "title_km": m["title"]["km"],
        "title_en": m["title"]["en"],
        "description_km": m.get("description", {}).get("km", ""),
        "description_en": m.get("description", {}).get("en", ""),
        "language": m["language"],
        "license": m["license"],
        "authors": json.dumps(m["authors"], ensure_ascii=False),
        "signed": checked.signed,
        "signer_key": checked.signer_key,
        "manifest_sha256": checked.manifest_sha256,
        "manifest": json.dumps(m, ensure_ascii=False),
        "size_bytes": checked.size_bytes,
        "installed_at": utcnow(),
        "installed_by": installed_by,
    }
    if existing is None:
        pack = Pack.create(pack_id=pid, **fields)
        old_courses, old_modules, old_items = {}, {}, {}
    else:
        pack = existing
        for name, value in fields.items():
            setattr(pack, name, value)
        pack.save()
        old_courses = {c.key: c for c in Course.select().where(Course.pack == pack)}
        old_modules = {r.key: r for r in Module.select().join(Course).where(Course.pack == pack)}
        old_items = {r.key: r for r in Item.select().join(Course).where(Course.pack == pack)}
    courses: dict[str, Course] = {}
    modules: dict[str, Module] = {}
    for position, course in enumerate(m["courses"]):
        courses[course["slug"]] = _upsert(
            Course,
            old_courses,
            f"{pid}/{course['slug']}",
            {
                "pack": pack,
                "slug": course["slug"],
                "title_km": course["title"].get("km", ""),
                "title_en": course["title"].get("en", ""),
                "description_km": course.get("description", {}).get("km", ""),
                "description_en": course.get("description", {}).get("en", ""),
                "position": position,
                "open": course.get("open", False),
            },
        )
        for mpos, module in enumerate(course["modules"]):
            modules[module["slug"]] = _upsert(
                Module,
                old_modules,
                f"{pid}/{module['slug']}",
                {
                    "course": courses[course["slug"]],
                    "slug": module["slug"],
                    "title_km": module["title"].get("km", ""),
                    "title_en": module["title"].get("en", ""),
                    "position": mpos,
                },
            )
    search.unindex_pack(pid)
    positions: dict[str, int] = {}
    for course, module, item, extra, text in rows:
        key = f"{pid}/{item['slug']}"
        position = positions[module["slug"]] = positions.get(module["slug"], -1) + 1
        _upsert(
            Item,
            old_items,
            key,
            {
                "module": modules[module["slug"]],
                "course": courses[course["slug"]],
                "slug": item["slug"],
                "type": item["type"],
                "title_km": item["title"].get("km", ""),
                "title_en": item["title"].get("en", ""),
                "position": position,
                "duration_s": item.get("duration_s"),
                "required": item.get("required", True),
                **extra,
            },
        )
        search.index_item(
            key,
            pid,
            item["type"],
            item["title"].get("km", ""),
            item["title"].get("en", ""),
            text,
        )
    # What the new version dropped goes last (progress elsewhere is kept by key).
    for model, gone in ((Item, old_items), (Module, old_modules), (Course, old_courses)):
        if gone:
            model.delete().where(model.id.in_([r.id for r in gone.values()])).execute()
    PackFile.delete().where(PackFile.pack == pack).execute()
    PackFile.insert_many(
        [
            {"pack": pack, "path": p, "sha256": f["sha256"], "size": f["size"]}
            for p, f in sorted(checked.files.items())
        ]
    ).execute()


def install_pack(
    zip_path: str | Path,
    settings: Any,
    home: DataHome,
    *,
    force: bool = False,
    installed_by: str | None = None,
) -> InstallResult:
    """Install or upgrade the pack at ``zip_path``, all or nothing.

    Reinstalling the same version with the same manifest changes nothing. ``force``
    installs an older version, or different content under the same version.

    Raises:
        InvalidPack: the pack failed validation (every problem listed).
        PackConflict: an older version, or the same version with other content, unforced.
        NotEnoughSpace: the free disk cannot hold the new files.
        PackBusy: another install kept the lock too long.
    """
    store = ContentStore(home)
    with install_lock(home):
        store.collect_garbage(referenced_shas())
        checked = check_pack(zip_path, settings, checksums=False)
        existing = Pack.get_or_none(Pack.pack_id == checked.pack_id)
        _check_version(checked, existing, force)
        _check_competencies(checked)
        old_version = existing.version if existing else None
        if existing is not None and existing.manifest_sha256 == checked.manifest_sha256:
            if not force:
                return InstallResult(
                    checked.pack_id,
                    checked.version,
                    bool(existing.signed),
                    upgraded_from=old_version,
                    already_installed=True,
                    size_bytes=checked.size_bytes,
                )
        _check_space(store, checked, settings)
        with zipfile.ZipFile(checked.path) as zf:
            added = _copy_files(zf, store, checked)
            try:
                rows = [
                    (course, module, item, *item_row(zf, checked, item))
                    for course, module, item in iter_items(checked.manifest)
                ]
                with db.atomic():
                    _write_catalog(checked, existing, rows, installed_by)
            except BaseException:
                for sha in added:
                    store.remove(sha)
                raise
        if existing is not None:  # files only the old version used
            store.collect_garbage(referenced_shas())
    log.info("installed pack %s %s (%s new files)", checked.pack_id, checked.version, len(added))
    return InstallResult(
        checked.pack_id,
        checked.version,
        checked.signed,
        upgraded_from=old_version,
        files_added=len(added),
        size_bytes=checked.size_bytes,
    )


def remove_pack(pack_id: str, home: DataHome, *, installed_by: str | None = None) -> dict[str, Any]:
    """Remove an installed pack's catalog rows, index and unused files; events are kept.

    With ``installed_by`` (an instructor's username) only a pack that person installed is
    removed; admins and the CLI pass None and may remove any.

    Raises:
        PackNotFound: no pack ``pack_id`` is installed.
        PackNotYours: the pack was installed by someone else than ``installed_by``.
    """
    with install_lock(home):
        pack = Pack.get_or_none(Pack.pack_id == pack_id)
        if pack is None:
            raise PackNotFound(N_("No pack %(pack)s is installed"), pack=pack_id)
        if installed_by is not None and pack.installed_by != installed_by:
            raise PackNotYours(
                N_("Only the person who installed %(pack)s, or an admin, may remove it"),
                pack=pack_id,
            )
        info: dict[str, Any] = {"pack_id": pack.pack_id, "version": pack.version}
        with db.atomic():
            search.unindex_pack(pack_id)
            pack.delete_instance()
        info["files_removed"] = ContentStore(home).collect_garbage(referenced_shas())
    log.info("removed pack %s %s", info["pack_id"], info["version"])
    return info


def list_packs() -> list[dict[str, Any]]:
    """Return the installed packs with their course and item counts, by title."""
    counts = {
        pid: (courses, items)
        for pid, courses, items in db.execute_sql(
            "SELECT c.pack_id, COUNT(DISTINCT c.id), COUNT(i.id) FROM courses c "
            "LEFT JOIN items i ON i.course_id = c.id GROUP BY c.pack_id"
        )
    }
    packs = []
    for pack in Pack.select().order_by(Pack.title_km):
        courses, items = counts.get(pack.id, (0, 0))
        packs.append(
            {
                "id": pack.pack_id,
                "version": pack.version,
                "title_km": pack.title_km,
                "title_en": pack.title_en,
                "signed": bool(pack.signed),
                "signer_key": pack.signer_key,
                "size_bytes": pack.size_bytes,
                "installed_at": pack.installed_at,
                "installed_by": pack.installed_by,
                "courses": courses,
                "items": items,
            }
        )
    return packs
