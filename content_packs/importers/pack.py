"""Turn what an importer read into a normal pack: stable id and version, manifest, zip.

The id and version come from the package's own identifier and version when it has them,
else from the file name and a content hash (issue 18 item 7). The version of a file
without one is ``0.<date>.<time>+<hash>`` from the file's modification time (UTC), so the
same file always gives the same version and a newer copy a higher one: importing it again
upgrades the pack and learners keep their progress (items keep their slugs).
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import nh3

from ..build import _digest, slugify, write_pack
from ..manifest import FORMAT_VERSION
from .report import ImportReport

KHMER = re.compile("[\u1780-\u17ff\u19e0-\u19ff]")
MAX_QUESTIONS = 500  # per quiz item, as the manifest schema allows
TITLE_MAX = 300


def has_khmer(text: str) -> bool:
    return bool(KHMER.search(text))


def plain(text: str, is_html: bool = True) -> str:
    """Return ``text`` without HTML tags or entities, NFC, spaces collapsed."""
    if is_html:
        text = html.unescape(nh3.clean(text, tags=set()))
    return " ".join(unicodedata.normalize("NFC", text).split())


def lang_field(name: str, text: str) -> dict[str, str]:
    """Return ``{name_km: text}`` for Khmer text, else ``{name_en: text}``."""
    return {f"{name}_{'km' if has_khmer(text) else 'en'}": text}


def title(text: str) -> dict[str, str]:
    """Return a manifest title (both languages: an import has one name)."""
    text = plain(text, is_html=False)[:TITLE_MAX] or "Imported"
    return {"km": text, "en": text}


def stable_id(own_id: str | None, file_name: str) -> str:
    """Return the pack id: a slug of the package's own identifier, else of the file name."""
    base = own_id or PurePosixPath(file_name).name.split(".")[0]
    return slugify(base)[:48].strip("-") or "imported"


def stable_version(own_version: str | None, data_sha256: str, when: datetime) -> str:
    """Return a semantic version from the package's version and ``when``, and a hash.

    A package's own version ``A.B.C`` gives ``A.B.<C><date><time>``: partners often leave
    it as it was (``version="1"``) when they change the content, so the file's time still
    orders two copies, and a higher own version always wins.
    """
    when = when.astimezone(UTC)
    if own_version:
        parts = [int(p) for p in re.findall(r"\d+", own_version)[:3]]
        if parts:
            major, minor, patch = (parts + [0, 0])[:3]
            stamp = int(f"{when:%Y%m%d%H%M%S}")  # 14 digits, below 10**14
            return f"{major}.{minor}.{patch * 10**14 + stamp}+{data_sha256[:12]}"
    return f"0.{when:%Y%m%d}.{int(when.strftime('%H%M%S'))}+{data_sha256[:12]}"


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def quiz_items(
    groups: list[tuple[str, list[dict[str, Any]]]], report: ImportReport
) -> list[dict[str, Any]]:
    """Return quiz items from (category name, questions); big categories are split."""
    items: list[dict[str, Any]] = []
    used: set[str] = set()
    for name, questions in groups:
        if not questions:
            continue
        for start in range(0, len(questions), MAX_QUESTIONS):
            part = questions[start : start + MAX_QUESTIONS]
            slug = slugify(name) if start == 0 else f"{slugify(name)}-{start // MAX_QUESTIONS + 1}"
            while slug in used:
                slug = f"{slug}-x"
            used.add(slug)
            for n, q in enumerate(part, 1):
                q.setdefault("id", f"q{start + n}")
            items.append(
                {
                    "slug": slug,
                    "type": "quiz",
                    "title": {"km": name[:TITLE_MAX]},
                    "quiz": {
                        "pass_mark": 0.6,
                        "attempts": None,
                        "shuffle": False,
                        "questions": part,
                    },
                }
            )
            report.convert(f"quiz {slug}: {len(part)} questions")
    return items


def write_import(
    out: Path,
    report: ImportReport,
    pack_title: str,
    items: list[dict[str, Any]],
    files: dict[str, bytes | Path] | None = None,
    open_course: bool = False,
    modules: list[tuple[str, str, list[dict[str, Any]]]] | None = None,
    license_: str = "unknown (imported; see the source)",
    authors: list[str] | None = None,
) -> dict[str, Any]:
    """Write the pack zip ``out`` (one course) and return its manifest.

    ``modules`` (slug, title, items) gives the course sections; else one module of ``items``.

    Raises:
        InvalidPack: the result does not pass the pack checks (nothing is written).
    """
    files = files or {}
    if modules is None:
        modules = [("imported", pack_title, items)]
    course = {
        "slug": "course",
        "title": {"km": pack_title[:TITLE_MAX]},
        "open": open_course,
        "modules": [
            {"slug": slug, "title": {"km": (name or slug)[:TITLE_MAX]}, "items": its}
            for slug, name, its in modules
            if its
        ],
    }
    listed = []
    for rel in sorted(files):
        digest, size = _digest(files[rel])
        listed.append({"path": rel, "size": size, "sha256": digest})
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "id": report.pack_id,
        "version": report.version,
        "title": title(pack_title),
        "description": {"en": f"Imported from {report.source} ({report.format})"},
        "language": "km",
        "license": license_,
        "authors": authors or ["imported"],
        "courses": [course],
        "files": listed,
    }
    write_pack(manifest, files, out)
    return manifest
