"""Moodle course backups (``.mbz``, Moodle 2.x-4.5) -> a course with one module per section.

A backup is a tar.gz (older Moodle: a zip) with ``moodle_backup.xml`` at its root. Maps
pages (-> lessons), labels (-> lessons with their text), files (``resource`` -> media
items, HTML -> lessons), URLs (-> a lesson holding the link, kept as a link), quizzes
(-> quizzes; the questions of ``questions.xml``, Moodle 4 question bank entries or older
question ids, converted as Moodle XML questions are) and the sections in their order.
Other activities (forums, assignments, ...) are listed in the report.
https://docs.moodle.org/dev/Backup_2.0_general_architecture
"""

from __future__ import annotations

import html
import tarfile
import xml.etree.ElementTree as ET  # parsing goes through xmlsafe
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from edge_server.base.errors import N_

from ..build import slugify
from ..manifest import TYPE_ENDINGS
from ..zipsafe import Limits, is_safe_name
from . import moodle_xml
from .errors import BrokenFile
from .report import ImportReport
from .xmlsafe import child, children, descendants, parse_xml

MAX_XML = 32 * 1024 * 1024
NULL = "$@NULL@$"
HTML_ENDINGS = {".html", ".htm"}


def _text(el: ET.Element | None, name: str) -> str:
    found = child(el, name) if el is not None else None
    value = (found.text or "") if found is not None else ""
    return "" if value == NULL else value


def read_tar(path: Any, label: str, limits: Limits) -> dict[str, Callable[[], bytes]]:
    """Return a reader for each regular file of a backup (XML read at once, files later).

    Raises:
        BrokenFile: not a tar.gz, a path outside the backup, a link, too many or too large
            members (a bomb).
    """
    members: dict[str, Callable[[], bytes]] = {}
    total = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for info in tar:
                if len(members) >= limits.max_entries:
                    raise BrokenFile(N_("%(file)s has too many files"), file=label)
                name = info.name.removeprefix("./")
                if info.isdir() or not name:
                    continue
                if not info.isfile() or not is_safe_name(name):
                    raise BrokenFile(
                        N_("%(file)s holds %(name)s, a link or a path outside the backup"),
                        file=label,
                        name=name,
                    )
                total += info.size
                if total > limits.max_uncompressed:
                    raise BrokenFile(N_("%(file)s is too large once unpacked"), file=label)
                if name.endswith(".xml"):
                    if info.size > MAX_XML:
                        raise BrokenFile(N_("%(file)s is too large"), file=name)
                    handle = tar.extractfile(info)
                    members[name] = _now(handle.read() if handle is not None else b"")
                else:
                    members[name] = _later(path, name)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BrokenFile(N_("%(file)s is a damaged backup (tar.gz)"), file=label) from exc
    if "moodle_backup.xml" not in members:
        raise BrokenFile(N_("%(file)s has no moodle_backup.xml"), file=label)
    return members


def _now(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _later(path: Any, name: str) -> Callable[[], bytes]:
    def read() -> bytes:
        with tarfile.open(path, "r:gz") as tar:
            handle = tar.extractfile(name.lstrip("/"))
            if handle is None:
                handle = tar.extractfile(f"./{name}")
            return handle.read() if handle is not None else b""

    return read


class _Backup:
    def __init__(self, members: dict[str, Callable[[], bytes]], report: ImportReport) -> None:
        self.members, self.report = members, report
        self.files: dict[str, bytes] = {}
        self.slugs: set[str] = set()
        self.questions = self._questions()
        self.file_rows = self._file_rows()

    def xml(self, name: str) -> ET.Element | None:
        if name not in self.members:
            return None
        return parse_xml(self.members[name](), name)

    def slug(self, title: str, fallback: str) -> str:
        base = slugify(title)[:56].strip("-")
        base = fallback if base in ("", "item") else base
        slug, n = base, 2
        while slug in self.slugs:
            slug, n = f"{base}-{n}", n + 1
        self.slugs.add(slug)
        return slug

    def _questions(self) -> dict[str, dict[str, ET.Element]]:
        """Return questions by id and the newest version of each question bank entry."""
        by_id: dict[str, ET.Element] = {}
        by_entry: dict[str, ET.Element] = {}
        root = self.xml("questions.xml")
        if root is None:
            return {"id": by_id, "entry": by_entry}
        for q in descendants(root, "question"):
            if q.get("id"):
                by_id[q.get("id", "")] = q
        for entry in descendants(root, "question_bank_entry"):
            versions = descendants(entry, "question_versions")
            best = max(versions, key=lambda v: int(_text(v, "version") or 0), default=None)
            found = descendants(best, "question") if best is not None else []
            if found:
                by_entry[entry.get("id", "")] = found[0]
        return {"id": by_id, "entry": by_entry}

    def _file_rows(self) -> dict[str, ET.Element]:
        root = self.xml("files.xml")
        return {f.get("id", ""): f for f in children(root, "file")} if root is not None else {}

    def lesson(self, title: str, body: str, slug: str, label: str) -> dict[str, Any]:
        path = f"moodle/{slug}.html"
        self.files[path] = body.encode("utf-8")
        self.report.convert(f"lesson {slug}: {label}")
        return {
            "slug": slug,
            "type": "lesson",
            "title": {"km": title},
            "file": path,
            "format": "html",
        }

    def activity(self, kind: str, directory: str, title: str) -> dict[str, Any] | None:
        root = self.xml(f"{directory}/{kind}.xml")
        el = child(root, kind) if root is not None else None
        if el is None:
            self.report.skip(title, f"{directory}/{kind}.xml is not in the backup")
            return None
        name = " ".join((_text(el, "name") or title).split()) or title
        slug = self.slug(name, kind)
        intro = _text(el, "intro")
        if kind == "page":
            return self.lesson(name, intro + _text(el, "content"), slug, "Moodle page")
        if kind == "label":
            return self.lesson(name, intro, slug, "Moodle label, as text")
        if kind == "url":
            href = _text(el, "externalurl").strip()
            if not href.startswith(("http://", "https://")):
                self.slugs.discard(slug)
                self.report.skip(name, "the URL has no http(s) address")
                return None
            link = f'<p><a href="{html.escape(href)}">{html.escape(name)}</a></p>'
            return self.lesson(name, intro + link, slug, f"link to {href} (needs internet)")
        if kind == "resource":
            return self.resource(name, slug, directory)
        if kind == "quiz":
            return self.quiz(name, slug, el)
        self.slugs.discard(slug)
        return None

    def resource(self, name: str, slug: str, directory: str) -> dict[str, Any] | None:
        refs = self.xml(f"{directory}/inforef.xml")
        ids = [_text(f, "id") for f in descendants(refs, "file")] if refs is not None else []
        rows = [self.file_rows[i] for i in ids if i in self.file_rows]
        rows = [r for r in rows if _text(r, "filename") not in ("", ".")]
        rows = [r for r in rows if _text(r, "filearea") == "content"] or rows
        if not rows:
            self.slugs.discard(slug)
            self.report.skip(name, "the file is not in the backup")
            return None
        row = max(rows, key=lambda r: int(_text(r, "sortorder") or 0))  # the main file: 1
        filename = _text(row, "filename")
        blob = _text(row, "contenthash")
        member = f"files/{blob[:2]}/{blob}"
        ending = PurePosixPath(filename).suffix.lower()
        kind = next(
            (k for k, endings in TYPE_ENDINGS.items() if ending in endings and k != "html5"), ""
        )
        if ending in HTML_ENDINGS:
            kind = "lesson"
        if not kind:
            self.slugs.discard(slug)
            self.report.skip(name, f"files of type {ending or '(none)'} are not items in Kru")
            return None
        if member not in self.members:
            self.slugs.discard(slug)
            self.report.skip(name, f"the file {filename} is not in the backup")
            return None
        path = f"moodle/{slug}{ending}"
        self.files[path] = self.members[member]()
        self.report.convert(f"{kind} {slug}: {filename}")
        item: dict[str, Any] = {"slug": slug, "type": kind, "title": {"km": name}, "file": path}
        if kind == "lesson":
            item["format"] = "html"
        return item

    def quiz(self, name: str, slug: str, el: ET.Element) -> dict[str, Any] | None:
        found: list[dict[str, Any]] = []
        slots = sorted(
            descendants(el, "question_instance"), key=lambda s: int(_text(s, "slot") or 0)
        )
        for n, slot in enumerate(slots, 1):
            label = f"{name}: question {n}"
            refs = descendants(slot, "questionbankentryid")  # in <question_reference>
            entry = (refs[0].text or "") if refs else ""
            q_el = (
                self.questions["entry"].get(entry)
                if entry
                else self.questions["id"].get(_text(slot, "questionid"))
            )
            if q_el is None:
                self.report.skip(label, "the question is not in the backup (random questions too)")
                continue
            question = moodle_xml.from_backup(q_el, label, self.report)
            if question is not None:
                question["id"] = f"q{len(found) + 1}"
                found.append(question)
        if not found:
            self.slugs.discard(slug)
            self.report.skip(name, "no question Kru can use in the quiz")
            return None
        self.report.convert(f"quiz {slug}: {len(found)} questions")
        quiz = {"pass_mark": 0.6, "attempts": None, "shuffle": False, "questions": found[:500]}
        return {"slug": slug, "type": "quiz", "title": {"km": name}, "quiz": quiz}


def convert(
    members: dict[str, Callable[[], bytes]], report: ImportReport
) -> tuple[list, dict[str, bytes], str, str | None]:
    """Return (modules, files, course title, backup id) of a Moodle backup's members."""
    root = parse_xml(members["moodle_backup.xml"](), "moodle_backup.xml")
    backup = _Backup(members, report)
    info = child(root, "information")
    contents = child(info, "contents") if info is not None else None
    course_el = child(contents, "course") if contents is not None else None
    title = _text(course_el, "title") or _text(info, "original_course_fullname")
    activities = {
        _text(a, "moduleid"): a
        for a in (descendants(contents, "activity") if contents is not None else [])
    }
    modules: list[tuple[str, str, list[dict[str, Any]]]] = []
    placed: set[str] = set()
    sections = descendants(contents, "section") if contents is not None else []
    for s in sections:
        section = backup.xml(f"{_text(s, 'directory')}/section.xml")
        number = _text(section, "number") if section is not None else _text(s, "title")
        name = _text(section, "name") if section is not None else ""
        name = name or ("General" if number == "0" else f"Section {number}")
        order = (_text(section, "sequence") if section is not None else "").split(",")
        ids = [i for i in order if i in activities] + [
            i
            for i, a in activities.items()
            if _text(a, "sectionid") == _text(s, "sectionid") and i not in order
        ]
        items = []
        for module_id in ids:
            if module_id in placed:
                continue
            placed.add(module_id)
            act = activities[module_id]
            kind, act_title = _text(act, "modulename"), _text(act, "title")
            if kind not in ("page", "label", "url", "resource", "quiz"):
                report.skip(act_title or kind, f"Moodle {kind} activities are not converted")
                continue
            made = backup.activity(kind, _text(act, "directory"), act_title or kind)
            if made is not None:
                items.append(made)
        slug = f"section-{number}" if number.isdigit() else backup.slug(name, "section")
        modules.append((slug, name, items))
    original = _text(info, "original_course_id")
    site = _text(info, "original_wwwroot")
    own_id = f"moodle-course-{original}-{slugify(site.split('//')[-1])}" if original else None
    return modules, backup.files, title, own_id
