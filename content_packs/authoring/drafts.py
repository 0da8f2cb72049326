"""Drafts of courses: create, read, change, reorder, with a revision for every change.

Every change names the revision the editor last saw (``revision``); a change against an
older revision raises ``DraftConflict`` (409 ``draft_conflict``) and writes nothing, so a
second editor never silently overwrites the first. Adding a module, item or image may
leave ``revision`` out: it overwrites nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any

from edge_server.base.datahome import DataHome
from edge_server.base.db import db, utcnow
from edge_server.base.errors import N_, Conflict, NotFound, ValidationError

from ..build import slugify
from ..manifest import MIME_TYPES, TYPE_ENDINGS, schema
from ..store import ContentStore, install_lock
from .models import Draft, DraftItem, DraftMedia, DraftModule, Publication

ITEM_TYPES = ("lesson", "quiz", "image", "video", "audio", "pdf", "task")
EDITABLE_TYPES = (*ITEM_TYPES, "html5")  # an HTML5 app comes in a pack, never made here
MAX_BODY_CHARS = 1_000_000
# One request (multipart) carries an image or a short clip; larger video, audio and PDF go
# up as resumable uploads (purpose ``authoring_media``) up to the site's pack upload limit.
MAX_MEDIA_BYTES = 8 * 1024 * 1024
VTT_SIGNATURE = b"WEBVTT"
NEW_VERSION = "1.0.0"


class DraftConflict(Conflict):
    code = "draft_conflict"


class DraftNotFound(NotFound):
    code = "draft_not_found"


class BadDraft(ValidationError):
    code = "draft_invalid"


def _uid() -> str:
    return uuid.uuid4().hex


def _title(value: Any) -> tuple[str, str]:
    """Return (km, en) of a ``{"km", "en"}`` title.

    Raises:
        BadDraft: no Khmer (or English) text, or not strings.
    """
    if not isinstance(value, dict):
        raise BadDraft(N_('Give the title as {"km": ..., "en": ...}'))
    km, en = value.get("km") or "", value.get("en") or ""
    if not isinstance(km, str) or not isinstance(en, str) or not (km.strip() or en.strip()):
        raise BadDraft(N_("The title needs Khmer or English text"))
    if len(km) > 300 or len(en) > 300:
        raise BadDraft(N_("The title is longer than 300 characters"))
    # A pack title needs Khmer; an English-only title is shown in Khmer pages too.
    return (km.strip() or en.strip()), en.strip()


def get(draft_id: str) -> Draft:
    draft = Draft.get_or_none(Draft.id == draft_id)
    if draft is None:
        raise DraftNotFound(N_("There is no draft %(id)s"), id=draft_id)
    return draft


def bump(draft_id: str, revision: int | None, user: str | None) -> int:
    """Move the draft to its next revision; return it.

    Raises:
        DraftConflict: ``revision`` is not the draft's current one.
        DraftNotFound: no such draft.
    """
    now = utcnow()
    if revision is None:
        query = Draft.update(revision=Draft.revision + 1, updated_by=user, updated_at=now).where(
            Draft.id == draft_id
        )
    else:
        if isinstance(revision, bool) or not isinstance(revision, int):
            raise BadDraft(N_("revision must be a whole number"))
        query = Draft.update(revision=Draft.revision + 1, updated_by=user, updated_at=now).where(
            (Draft.id == draft_id) & (Draft.revision == revision)
        )
    if query.execute() == 0:
        current = get(draft_id)
        raise DraftConflict(
            N_(
                "%(user)s changed this draft since you opened it; reload it to see their "
                "changes (your text is kept in this browser)"
            ),
            user=current.updated_by or "?",
            details={"revision": current.revision, "updated_by": current.updated_by},
        )
    return get(draft_id).revision


def _require_revision(body: dict[str, Any]) -> int:
    if "revision" not in body:
        raise BadDraft(N_("Send the revision of the draft you changed"), code="revision_required")
    return body["revision"]


def create(title: Any, user: str | None, site_label: str) -> Draft:
    """Make a new draft course with one module; return it."""
    km, en = _title(title)
    now = utcnow()
    draft_id = _uid()
    base = slugify(en or "course")[:40].strip("-") or "course"
    pack_id = f"{site_label}-{base}-{draft_id[:6]}"[:64].strip("-")
    with db.atomic():
        draft = Draft.create(
            id=draft_id,
            pack_id=pack_id,
            course_slug=pack_id,
            base_version=NEW_VERSION,
            title_km=km,
            title_en=en,
            pack_meta=json.dumps(
                {"license": "CC-BY-4.0", "authors": [user or site_label], "language": "km"}
            ),
            created_by=user,
            created_at=now,
            updated_by=user,
            updated_at=now,
        )
        DraftModule.create(id=_uid(), draft=draft, slug="m1", title_km=km, title_en=en)
    return draft


def update(draft_id: str, body: dict[str, Any], user: str | None) -> int:
    """Change the draft's title or description; return the new revision."""
    revision = _require_revision(body)
    fields: dict[str, Any] = {}
    if "title" in body:
        fields["title_km"], fields["title_en"] = _title(body["title"])
    if "description" in body:
        desc = body["description"] or {}
        if not isinstance(desc, dict):
            raise BadDraft(N_('Give the description as {"km": ..., "en": ...}'))
        fields["description_km"] = str(desc.get("km") or "")[:5000]
        fields["description_en"] = str(desc.get("en") or "")[:5000]
    with db.atomic():
        new = bump(draft_id, revision, user)
        if fields:
            Draft.update(**fields).where(Draft.id == draft_id).execute()
    return new


def add_module(draft_id: str, body: dict[str, Any], user: str | None) -> tuple[str, int]:
    km, en = _title(body.get("title"))
    with db.atomic():
        new = bump(draft_id, body.get("revision"), user)
        count = DraftModule.select().where(DraftModule.draft == draft_id).count()
        slugs = {m.slug for m in DraftModule.select().where(DraftModule.draft == draft_id)}
        n = count + 1
        while f"m{n}" in slugs:
            n += 1
        module = DraftModule.create(
            id=_uid(), draft=draft_id, slug=f"m{n}", title_km=km, title_en=en, position=count
        )
    return module.id, new


def update_module(draft_id: str, module_id: str, body: dict[str, Any], user: str | None) -> int:
    revision = _require_revision(body)
    km, en = _title(body.get("title"))
    with db.atomic():
        _module(draft_id, module_id)
        new = bump(draft_id, revision, user)
        DraftModule.update(title_km=km, title_en=en).where(DraftModule.id == module_id).execute()
    return new


def delete_module(draft_id: str, module_id: str, body: dict[str, Any], user: str | None) -> int:
    revision = _require_revision(body)
    with db.atomic():
        module = _module(draft_id, module_id)
        if DraftModule.select().where(DraftModule.draft == draft_id).count() == 1:
            raise BadDraft(N_("A course keeps at least one module"), code="draft_last_module")
        new = bump(draft_id, revision, user)
        module.delete_instance(recursive=True)
    return new


def _module(draft_id: str, module_id: str) -> DraftModule:
    module = DraftModule.get_or_none(
        (DraftModule.id == module_id) & (DraftModule.draft == draft_id)
    )
    if module is None:
        get(draft_id)
        raise DraftNotFound(N_("There is no module %(id)s in this draft"), id=module_id)
    return module


def _item(draft_id: str, item_id: str) -> DraftItem:
    item = DraftItem.get_or_none((DraftItem.id == item_id) & (DraftItem.draft == draft_id))
    if item is None:
        get(draft_id)
        raise DraftNotFound(N_("There is no item %(id)s in this draft"), id=item_id)
    return item


def _media_paths(draft_id: str) -> set[str]:
    return {m.path for m in DraftMedia.select().where(DraftMedia.draft == draft_id)}


def _check_item(draft_id: str, kind: str, slug: str, title: tuple[str, str], data: dict) -> None:
    """Check an item against the pack format's schema and rules.

    Raises:
        BadDraft: naming what is wrong (the schema's words).
    """
    from jsonschema import Draft202012Validator

    from ..manifest import _quiz_problems

    item: dict[str, Any] = {"slug": slug, "type": kind, "title": {"km": title[0]}}
    if title[1]:
        item["title"]["en"] = title[1]
    if kind == "lesson":
        item["file"] = data.get("file") or f"lessons/{slug}.md"
        item["format"] = data.get("format") or "markdown"
        wanted = {"markdown": (".md",), "html": (".html", ".htm")}.get(str(item["format"]), ())
        lesson_file = str(item["file"])
        if not lesson_file.endswith(wanted) or lesson_file in _media_paths(draft_id):
            raise BadDraft(N_("%(file)s cannot hold this lesson"), file=lesson_file)
    elif kind == "quiz":
        item["quiz"] = data.get("quiz")
    elif kind == "task":
        item["task"] = data.get("task")
    else:
        item["file"] = data.get("file")
        for name in ("alt", "captions", "poster"):
            if data.get(name) is not None:
                item[name] = data[name]
        if item["file"] not in _media_paths(draft_id):
            raise BadDraft(
                N_("Upload the file first; %(file)s is not in this draft"), file=str(item["file"])
            )
        for caption in data.get("captions") or []:
            path = caption.get("file") if isinstance(caption, dict) else None
            if path not in _media_paths(draft_id) or not str(path).endswith(".vtt"):
                raise BadDraft(
                    N_("Captions must be a WebVTT file (.vtt) uploaded to this draft"),
                    code="draft_bad_captions",
                )
        ending = Path(str(item["file"])).suffix.lower()
        if ending not in TYPE_ENDINGS.get(kind, set()):
            raise BadDraft(
                N_("%(file)s is not a kind of file a %(type)s item can use"),
                file=item["file"],
                type=kind,
            )
    for name in ("required", "duration_s", "competencies"):
        if name in data:
            item[name] = data[name]
    spec = {"$defs": schema()["$defs"], "$ref": "#/$defs/item"}
    errors = sorted(Draft202012Validator(spec).iter_errors(item), key=lambda e: list(e.path))
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path) or "item"
        raise BadDraft(N_("%(where)s: %(problem)s"), where=where, problem=errors[0].message[:300])
    if kind == "quiz":
        problems = _quiz_problems(slug, item["quiz"])
        if problems:
            raise BadDraft(problems[0].template, **problems[0].params)


def _item_fields(draft_id: str, kind: str, slug: str, body: dict[str, Any]) -> dict[str, Any]:
    title = _title(body.get("title"))
    data: dict[str, Any] = {}
    names: tuple[str, ...] = ("required", "duration_s", "file", "format", "alt", "captions")
    names += ("poster", "entry", "competencies")  # competencies: issue 16
    for name in (*names, "quiz", "task"):
        if name in body:
            data[name] = body[name]
    if kind == "quiz" and "questions" in body:
        quiz = dict(body.get("quiz") or {})
        quiz["questions"] = body["questions"]
        for name in ("pass_mark", "attempts", "shuffle"):
            if name in body:
                quiz[name] = body[name]
        data["quiz"] = quiz
    body_md = body.get("body_md", "")
    if kind == "lesson":
        if not isinstance(body_md, str):
            raise BadDraft(N_("body_md must be text (Markdown)"))
        if len(body_md) > MAX_BODY_CHARS:
            raise BadDraft(N_("The lesson is longer than %(n)s characters"), n=MAX_BODY_CHARS)
        # The build reads lessons with universal newlines: store what it will read.
        body_md = body_md.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    _check_item(draft_id, kind, slug, title, data)
    return {
        "title_km": title[0],
        "title_en": title[1],
        "body_md": body_md if kind == "lesson" else "",
        "data": json.dumps(data, ensure_ascii=False),
    }


def add_item(draft_id: str, body: dict[str, Any], user: str | None) -> tuple[str, int]:
    """Add a lesson, quiz or media item (at the end of ``module`` or the last module).

    Raises:
        BadDraft: the item does not fit the pack format.
    """
    kind = body.get("type")
    if kind not in ITEM_TYPES:
        raise BadDraft(
            N_("type must be one of %(types)s"), types=", ".join(ITEM_TYPES), code="draft_bad_type"
        )
    get(draft_id)
    if body.get("module"):
        module = _module(draft_id, str(body["module"]))
    else:
        module = (
            DraftModule.select()
            .where(DraftModule.draft == draft_id)
            .order_by(DraftModule.position.desc())
            .first()
        )
    given = body.get("title")
    title: dict[str, Any] = given if isinstance(given, dict) else {}
    taken = {i.slug for i in DraftItem.select().where(DraftItem.draft == draft_id)}
    base = slugify(title.get("en") or kind)[:56].strip("-") or kind
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    fields = _item_fields(draft_id, kind, slug, body)
    with db.atomic():
        new = bump(draft_id, body.get("revision"), user)
        position = DraftItem.select().where(DraftItem.module == module).count()
        item = DraftItem.create(
            id=_uid(), draft=draft_id, module=module, slug=slug, type=kind,
            position=position, **fields,
        )  # fmt: skip
    return item.id, new


def update_item(draft_id: str, item_id: str, body: dict[str, Any], user: str | None) -> int:
    """Replace an item's title and content (its slug, so learners' progress, stays)."""
    revision = _require_revision(body)
    item = _item(draft_id, item_id)
    merged = {"title": {"km": item.title_km, "en": item.title_en}, **item.payload}
    merged["body_md"] = item.body_md
    merged.update(body)
    fields = _item_fields(draft_id, item.type, item.slug, merged)
    with db.atomic():
        new = bump(draft_id, revision, user)
        DraftItem.update(**fields).where(DraftItem.id == item_id).execute()
    return new


def delete_item(draft_id: str, item_id: str, body: dict[str, Any], user: str | None) -> int:
    revision = _require_revision(body)
    item = _item(draft_id, item_id)
    with db.atomic():
        new = bump(draft_id, revision, user)
        item.delete_instance()
    return new


def reorder(draft_id: str, body: dict[str, Any], user: str | None) -> int:
    """Set the order of modules and of the items in each: ``{"modules": [{"id", "items"}]}``.

    Raises:
        BadDraft: the order does not name every module and item exactly once.
    """
    revision = _require_revision(body)
    order = body.get("modules")
    if not isinstance(order, list):
        raise BadDraft(N_('Send modules as [{"id": ..., "items": [...]}]'))
    modules = {m.id for m in DraftModule.select().where(DraftModule.draft == draft_id)}
    items = {i.id for i in DraftItem.select().where(DraftItem.draft == draft_id)}
    try:
        named_modules = [str(m["id"]) for m in order]
        named_items = [str(i) for m in order for i in m["items"]]
    except (TypeError, KeyError) as exc:
        raise BadDraft(N_('Send modules as [{"id": ..., "items": [...]}]')) from exc
    if sorted(named_modules) != sorted(modules) or sorted(named_items) != sorted(items):
        get(draft_id)
        raise BadDraft(
            N_("The new order must name every module and item of the draft once"),
            code="draft_bad_order",
        )
    with db.atomic():
        new = bump(draft_id, revision, user)
        for mpos, module in enumerate(order):
            DraftModule.update(position=mpos).where(DraftModule.id == module["id"]).execute()
            for ipos, item_id in enumerate(module["items"]):
                DraftItem.update(position=ipos, module=module["id"]).where(
                    DraftItem.id == item_id
                ).execute()
    return new


def _media_name(filename: str) -> str:
    stem = slugify(Path(filename).stem)[:60] or "file"
    ending = Path(filename).suffix.lower()
    if ending not in MIME_TYPES or ending in (".toml", ".html", ".htm", ".js", ".svg"):
        raise BadDraft(
            N_("%(file)s is not a kind of file the editor takes (images, audio, video, PDF)"),
            file=filename,
            code="draft_bad_media",
        )
    return f"{stem}{ending}"


def _check_vtt(source: Path) -> None:
    """Raises: BadDraft when a captions file does not start as WebVTT must."""
    with open(source, "rb") as fh:
        head = fh.read(len(VTT_SIGNATURE) + 4).removeprefix(b"\xef\xbb\xbf")
    if not head.startswith(VTT_SIGNATURE) or head[len(VTT_SIGNATURE) : 7] not in (
        b"",
        b" ",
        b"\t",
        b"\n",
        b"\r",
    ):
        raise BadDraft(
            N_("%(file)s is not WebVTT: a captions file starts with the word WEBVTT"),
            file=source.name,
            code="draft_bad_captions",
        )


def add_media(
    draft_id: str,
    filename: str,
    source: Path,
    home: DataHome,
    user: str | None,
    max_bytes: int = MAX_MEDIA_BYTES,
) -> dict[str, Any]:
    """Put an uploaded file into the content store and the draft; return its reference.

    Raises:
        BadDraft: not a kind of file the editor takes, larger than ``max_bytes``, or a
            captions file that is not WebVTT.
    """
    get(draft_id)
    name = _media_name(filename)
    size = source.stat().st_size
    if size > max_bytes:
        raise BadDraft(
            N_("The file is larger than %(mb)s MB; upload it as a pack instead"),
            mb=max_bytes // (1024 * 1024),
            code="draft_media_too_large",
        )
    if name.endswith(".vtt"):
        _check_vtt(source)
    digest = hashlib.sha256()
    with open(source, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    sha = digest.hexdigest()
    store = ContentStore(home)
    with install_lock(home):  # the garbage collector holds it too
        if not store.has(sha):
            with store.writer(sha) as sink, open(source, "rb") as fh:
                while chunk := fh.read(1024 * 1024):
                    sink.write(chunk)
        existing = DraftMedia.get_or_none(
            (DraftMedia.draft == draft_id) & (DraftMedia.sha256 == sha)
        )
        if existing is not None:
            return {
                "path": existing.path,
                "sha256": sha,
                "size": size,
                "revision": get(draft_id).revision,
            }
        path, n = f"media/{name}", 1
        taken = _media_paths(draft_id)
        while path in taken:
            n += 1
            path = f"media/{Path(name).stem}-{n}{Path(name).suffix}"
        with db.atomic():
            revision = bump(draft_id, None, user)
            DraftMedia.create(draft=draft_id, path=path, sha256=sha, size=size)
    return {"path": path, "sha256": sha, "size": size, "revision": revision}


def media_sha(draft_id: str, sha: str) -> DraftMedia | None:
    return DraftMedia.get_or_none((DraftMedia.draft == draft_id) & (DraftMedia.sha256 == sha))


def item_json(item: DraftItem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "slug": item.slug,
        "type": item.type,
        "title": {"km": item.title_km, "en": item.title_en},
        **item.payload,
    }
    if item.type == "lesson":
        out["body_md"] = item.body_md
    return out


def as_json(draft_id: str) -> dict[str, Any]:
    """Return the whole draft: course fields, modules with items, media, publications."""
    draft = get(draft_id)
    modules = list(
        DraftModule.select().where(DraftModule.draft == draft).order_by(DraftModule.position)
    )
    items: dict[str, list[dict[str, Any]]] = {m.id: [] for m in modules}
    for item in DraftItem.select().where(DraftItem.draft == draft).order_by(DraftItem.position):
        items[item.__data__["module"]].append(item_json(item))
    return {
        "id": draft.id,
        "pack_id": draft.pack_id,
        "base_version": draft.base_version,
        "revision": draft.revision,
        "title": {"km": draft.title_km, "en": draft.title_en},
        "description": {"km": draft.description_km, "en": draft.description_en},
        "updated_by": draft.updated_by,
        "updated_at": draft.updated_at,
        "modules": [
            {
                "id": m.id,
                "slug": m.slug,
                "title": {"km": m.title_km, "en": m.title_en},
                "items": items[m.id],
            }
            for m in modules
        ],
        "media": [
            {"path": m.path, "sha256": m.sha256, "size": m.size}
            for m in DraftMedia.select().where(DraftMedia.draft == draft).order_by(DraftMedia.path)
        ],
        "history": history(draft.pack_id),
    }


def list_drafts() -> list[dict[str, Any]]:
    return [
        {
            "id": d.id,
            "pack_id": d.pack_id,
            "title": {"km": d.title_km, "en": d.title_en},
            "revision": d.revision,
            "updated_by": d.updated_by,
            "updated_at": d.updated_at,
        }
        for d in Draft.select().order_by(Draft.updated_at.desc())
    ]


def history(pack_id: str) -> list[dict[str, Any]]:
    """Return who published which version of ``pack_id`` on this site, newest first."""
    return [
        {
            "version": p.version,
            "published_by": p.published_by,
            "published_at": p.published_at,
            "signer_key": p.signer_key,
            "changes": json.loads(p.changes or "{}"),
        }
        for p in Publication.select()
        .where(Publication.pack_id == pack_id)
        .order_by(Publication.id.desc())
    ]


def delete(draft_id: str) -> None:
    get(draft_id).delete_instance(recursive=True)


_LABEL = re.compile(r"[^0-9A-Za-z-]+")


def site_label(settings: Any) -> str:
    """Return this site's label for local versions and pack ids (``https.site_label``)."""
    label = settings["https.site_label"] or slugify(settings["site_name"]) or "site"
    return _LABEL.sub("-", label).strip("-").lower()[:30] or "site"
