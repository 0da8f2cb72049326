"""Publish a draft as a signed pack version, and open an installed pack as a draft.

Publishing goes through the same code as any pack: the draft is written as a source
folder (``source.write_source``), built (``build.build_pack``), signed with the site's
key (``signing.sign_pack``) and installed like an upgrade (``install.install_pack``), so
learners keep their progress on items whose slug did not change.

Versions made on a site carry build metadata: ``<base>+<site label>.<n>``, e.g.
``1.2.0+tec-battambang.3`` (docs/content-packs.md, "Versions made on a site").
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from edge_server.base.datahome import DataHome
from edge_server.base.db import db, utcnow
from edge_server.base.errors import N_
from edge_server.base.site_signing import KEY_FILE, public_key_b64, signing_key

from ..build import build_pack
from ..errors import PackConflict, PackNotFound
from ..install import InstallResult, install_pack
from ..manifest import FORMAT_VERSION, iter_items, semver_key
from ..models import Pack
from ..signing import sign_pack
from ..store import ContentStore
from . import drafts
from .models import Draft, DraftItem, DraftMedia, DraftModule, Publication
from .source import write_source

log = logging.getLogger(__name__)


def _text(km: str, en: str) -> dict[str, str]:
    return {"km": km, "en": en} if en else {"km": km}


def local_version(base: str, label: str, pack_id: str) -> str:
    """Return the next local version of ``pack_id`` made from ``base`` on site ``label``."""
    core = base.split("+", 1)[0]
    prefix = f"{core}+{label}."
    numbers = [
        int(p.version[len(prefix) :])
        for p in Publication.select(Publication.version).where(Publication.pack_id == pack_id)
        if p.version.startswith(prefix) and p.version[len(prefix) :].isdigit()
    ]
    return f"{prefix}{max(numbers, default=0) + 1}"


def draft_manifest(draft_id: str, version: str) -> tuple[dict[str, Any], dict[str, bytes | str]]:
    """Return the manifest a draft builds into and its files (lesson text, or media sha256).

    Raises:
        BadDraft: the draft has no item yet.
    """
    draft = drafts.get(draft_id)
    meta = draft.meta
    files: dict[str, bytes | str] = {
        m.path: m.sha256 for m in DraftMedia.select().where(DraftMedia.draft == draft)
    }
    modules = []
    for module in (
        DraftModule.select().where(DraftModule.draft == draft).order_by(DraftModule.position)
    ):
        items = []
        for row in (
            DraftItem.select().where(DraftItem.module == module).order_by(DraftItem.position)
        ):
            data = row.payload
            item: dict[str, Any] = {
                "slug": row.slug,
                "type": row.type,
                "title": _text(row.title_km, row.title_en),
            }
            for name in ("required", "duration_s", "competencies"):
                if name in data:
                    item[name] = data[name]
            if row.type == "lesson":
                item["file"] = data.get("file") or f"lessons/{row.slug}.md"
                item["format"] = data.get("format") or "markdown"
                files[item["file"]] = row.body_md.encode("utf-8")
            elif row.type == "quiz":
                quiz = dict(data["quiz"])
                quiz.setdefault("pass_mark", 0.6)
                quiz.setdefault("shuffle", False)
                item["quiz"] = quiz
            elif "file" not in data:
                # Types the editor does not edit yet (tasks, issue 15) go out as the pack had them.
                item.update({k: v for k, v in data.items() if k not in item})
            else:
                item["file"] = data["file"]
                for name in ("alt", "captions", "poster", "entry"):
                    if data.get(name) is not None:
                        item[name] = data[name]
                if row.type == "video":
                    item.setdefault("captions", [])
            items.append(item)
        if items:  # an empty module is left out until it has an item
            title = _text(module.title_km, module.title_en)
            modules.append({"slug": module.slug, "title": title, "items": items})
    if not modules:
        raise drafts.BadDraft(
            N_("Add at least one lesson, quiz or file before publishing"), code="draft_empty"
        )
    course: dict[str, Any] = {
        "slug": draft.course_slug,
        "title": _text(draft.title_km, draft.title_en),
        "modules": modules,
        "open": bool(meta.get("open", False)),
    }
    if draft.description_km or draft.description_en:
        course["description"] = _text(draft.description_km, draft.description_en)
    manifest = {
        "format_version": FORMAT_VERSION,
        "id": draft.pack_id,
        "version": version,
        # A pack's own title needs both languages; a Khmer-only course repeats it.
        "title": meta.get("title")
        or {"km": draft.title_km, "en": draft.title_en or draft.title_km},
        "description": meta.get("description") or {},
        "language": meta.get("language", "km"),
        "license": meta.get("license", "CC-BY-4.0"),
        "authors": meta.get("authors") or [],
        "courses": [course],
        "files": [{"path": p} for p in sorted(files)],
    }
    if meta.get("frameworks"):  # issue 16: the pack's competency frameworks go out as they came
        manifest["frameworks"] = meta["frameworks"]
    return manifest, files


def _changes(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, list[str]]:
    """Return the item slugs added, changed and removed from ``old`` to ``new``."""

    def items(manifest: dict[str, Any] | None) -> dict[str, str]:
        if manifest is None:
            return {}
        shas = {f["path"]: f["sha256"] for f in manifest["files"]}
        return {
            i["slug"]: json.dumps([i, shas.get(i.get("file", ""))], sort_keys=True)
            for _c, _m, i in iter_items(manifest)
        }

    before, after = items(old), items(new)
    return {
        "added": sorted(set(after) - set(before)),
        "changed": sorted(s for s in set(after) & set(before) if after[s] != before[s]),
        "removed": sorted(set(before) - set(after)),
    }


def publish(draft_id: str, settings: Any, home: DataHome, user: str | None) -> InstallResult:
    """Build, sign and install the draft as the pack's next local version.

    Raises:
        BadDraft: the draft cannot become a pack (the build's problem named).
        PackConflict: a newer version of the pack was installed since the draft was opened.
    """
    draft = drafts.get(draft_id)
    version = local_version(draft.base_version, drafts.site_label(settings), draft.pack_id)
    installed = Pack.get_or_none(Pack.pack_id == draft.pack_id)
    if installed is not None and semver_key(installed.version) > semver_key(version):
        raise PackConflict(
            N_(
                "Version %(installed)s of this pack was installed after the draft was "
                "opened; open the pack as a new draft to edit that version"
            ),
            code="draft_outdated",
            installed=installed.version,
        )
    manifest, files = draft_manifest(draft_id, version)
    store = ContentStore(home)
    signing_key(home)  # made on first use
    home.tmp.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="publish-", dir=home.tmp))
    try:

        def write(path: str, dest: Path) -> None:
            data = files[path]
            if isinstance(data, bytes):
                dest.write_bytes(data)
            else:
                shutil.copyfile(store.path_for(data), dest)

        write_source(manifest, write, work / "src")
        zip_path = work / f"{draft.pack_id}.zip"
        built = build_pack(work / "src", zip_path)
        sign_pack(zip_path, home.secrets / KEY_FILE)
        old = json.loads(installed.manifest) if installed is not None else None
        # Local versions equal the base in semver order (build metadata), so force; the
        # downgrade case was refused above.
        result = install_pack(zip_path, settings, home, force=True, installed_by=user)
        with db.atomic():
            Publication.create(
                pack_id=draft.pack_id,
                version=version,
                draft_id=draft_id,
                published_by=user,
                published_at=utcnow(),
                manifest_sha256=Pack.get(Pack.pack_id == draft.pack_id).manifest_sha256,
                signer_key=public_key_b64(home),
                changes=json.dumps(_changes(old, built)),
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("published draft %s as %s %s by %s", draft_id, draft.pack_id, version, user)
    return result


def open_pack(pack_id: str, home: DataHome, user: str | None) -> Draft:
    """Open the installed pack ``pack_id`` as a draft for its next version.

    Raises:
        PackNotFound: no such pack.
        BadDraft: the pack holds several courses (the editor edits one course a pack).
    """
    pack = Pack.get_or_none(Pack.pack_id == pack_id)
    if pack is None:
        raise PackNotFound(N_("No pack %(pack)s is installed"), pack=pack_id)
    manifest = json.loads(pack.manifest)
    if len(manifest["courses"]) != 1:
        raise drafts.BadDraft(
            N_("The editor opens packs with one course; %(pack)s has %(n)s"),
            pack=pack_id,
            n=len(manifest["courses"]),
            code="draft_many_courses",
        )
    course = manifest["courses"][0]
    store = ContentStore(home)
    shas = {f["path"]: f for f in manifest["files"]}
    lessons = {i["file"] for _c, _m, i in iter_items(manifest) if i["type"] == "lesson"}
    now = utcnow()
    meta = {
        k: manifest[k]
        for k in ("title", "description", "language", "license", "authors", "frameworks")
        if k in manifest
    }
    meta["open"] = bool(course.get("open", False))
    with db.atomic():
        draft = Draft.create(
            id=drafts._uid(),
            pack_id=pack_id,
            course_slug=course["slug"],
            base_version=pack.version,
            title_km=course["title"].get("km", ""),
            title_en=course["title"].get("en", ""),
            description_km=course.get("description", {}).get("km", ""),
            description_en=course.get("description", {}).get("en", ""),
            pack_meta=json.dumps(meta, ensure_ascii=False),
            created_by=user,
            created_at=now,
            updated_by=user,
            updated_at=now,
        )
        for path, f in sorted(shas.items()):
            if path not in lessons:
                DraftMedia.create(draft=draft, path=path, sha256=f["sha256"], size=f["size"])
        for mpos, module in enumerate(course["modules"]):
            mod = DraftModule.create(
                id=drafts._uid(),
                draft=draft,
                slug=module["slug"],
                title_km=module["title"].get("km", ""),
                title_en=module["title"].get("en", ""),
                position=mpos,
            )
            for ipos, item in enumerate(module["items"]):
                data = {k: v for k, v in item.items() if k not in ("slug", "type", "title")}
                body = ""
                if item["type"] == "lesson":
                    body = store.path_for(shas[item["file"]]["sha256"]).read_text("utf-8")
                DraftItem.create(
                    id=drafts._uid(),
                    draft=draft,
                    module=mod,
                    slug=item["slug"],
                    type=item["type"],
                    title_km=item["title"].get("km", ""),
                    title_en=item["title"].get("en", ""),
                    position=ipos,
                    body_md=body,
                    data=json.dumps(data, ensure_ascii=False),
                )
    return draft
