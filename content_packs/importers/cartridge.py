"""IMS Common Cartridge 1.1-1.3 (``.imscc``) -> a course with one module per section.

Maps web content (HTML pages -> lessons; PDFs, images, audio and video -> media items),
web links (-> a lesson holding the link, kept as a link), discussion topics (-> a lesson
with the topic's text), QTI 1.2 assessments (-> a quiz, see qti12.py). Assignments, LTI
tools and anything else are listed in the report. https://www.imsglobal.org/cc/index.html
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET  # parsing goes through xmlsafe
import zipfile
from pathlib import PurePosixPath
from typing import Any

from ..build import slugify
from ..manifest import TYPE_ENDINGS
from ..zipsafe import read_member
from . import qti12
from .errors import BrokenFile
from .report import ImportReport
from .xmlsafe import child, children, descendants, local, parse_xml

MAX_FILE = 64 * 1024 * 1024
HTML_ENDINGS = {".html", ".htm"}


class _Course:
    def __init__(self, zf: zipfile.ZipFile, report: ImportReport) -> None:
        self.zf, self.report = zf, report
        self.names = set(zf.namelist())
        self.files: dict[str, bytes] = {}
        self.slugs: set[str] = set()

    def slug(self, title: str) -> str:
        base = slugify(title)[:56].strip("-") or "item"
        slug, n = base, 2
        while slug in self.slugs:
            slug, n = f"{base}-{n}", n + 1
        self.slugs.add(slug)
        return slug

    def read(self, name: str) -> bytes:
        return b"".join(read_member(self.zf, name, MAX_FILE))

    def add_file(self, name: str) -> None:
        if name not in self.files:
            self.files[name] = self.read(name)

    def lesson(self, title: str, body_html: str, label: str) -> dict[str, Any]:
        slug = self.slug(title)
        path = f"cartridge/{slug}.html"
        self.files[path] = body_html.encode("utf-8")
        self.report.convert(f"lesson {slug}: {label}")
        return {
            "slug": slug,
            "type": "lesson",
            "title": {"km": title},
            "file": path,
            "format": "html",
        }

    def webcontent(self, title: str, res: ET.Element) -> dict[str, Any] | None:
        href = res.get("href") or ""
        if href not in self.names:
            self.report.skip(title, f"the file {href or '(none)'} is not in the cartridge")
            return None
        for f in children(res, "file"):  # the page's own images and stylesheets
            if (name := f.get("href", "")) in self.names:
                self.add_file(name)
        ending = PurePosixPath(href).suffix.lower()
        slug = self.slug(title)
        if ending in HTML_ENDINGS:
            self.add_file(href)
            self.report.convert(f"lesson {slug}: {href}")
            return {
                "slug": slug,
                "type": "lesson",
                "title": {"km": title},
                "file": href,
                "format": "html",
            }
        kind = next(
            (k for k, endings in TYPE_ENDINGS.items() if ending in endings and k != "html5"), ""
        )
        if not kind:
            self.slugs.discard(slug)
            self.report.skip(title, f"files of type {ending or '(none)'} are not items in Kru")
            return None
        self.add_file(href)
        self.report.convert(f"{kind} {slug}: {href}")
        return {"slug": slug, "type": kind, "title": {"km": title}, "file": href}

    def quiz(self, title: str, res: ET.Element) -> dict[str, Any] | None:
        root = self.xml_of(res)
        found = qti12.questions(root, self.report) if root is not None else []
        if not found:
            self.report.skip(title, "no question Kru can use in the assessment")
            return None
        for n, q in enumerate(found, 1):
            q["id"] = f"q{n}"
        slug = self.slug(title)
        self.report.convert(f"quiz {slug}: {len(found)} questions")
        quiz = {"pass_mark": 0.6, "attempts": None, "shuffle": False, "questions": found[:500]}
        return {"slug": slug, "type": "quiz", "title": {"km": title}, "quiz": quiz}

    def xml_of(self, res: ET.Element) -> ET.Element | None:
        """Return a link's or topic's XML, or None (reported) if it is missing or broken."""
        name = res.get("href") or next((f.get("href", "") for f in children(res, "file")), "")
        if name not in self.names:
            self.report.skip(name or res.get("identifier", ""), "the file is not in the cartridge")
            return None
        try:
            return parse_xml(self.read(name), name)
        except BrokenFile as exc:
            self.report.skip(name, exc.message)
            return None

    def item(self, title: str, res: ET.Element) -> dict[str, Any] | None:
        kind = res.get("type", "")
        if kind == "webcontent":
            return self.webcontent(title, res)
        if kind.startswith("imswl_"):
            root = self.xml_of(res)
            url = child(root, "url") if root is not None else None
            href = url.get("href", "") if url is not None else ""
            if not href.startswith(("http://", "https://")):
                self.report.skip(title, "the web link has no http(s) address")
                return None
            link = f'<p><a href="{html.escape(href)}">{html.escape(title)}</a></p>'
            return self.lesson(title, link, f"link to {href} (needs internet)")
        if kind.startswith("imsdt_"):
            root = self.xml_of(res)
            text = child(root, "text") if root is not None else None
            body = (text.text or "") if text is not None else ""
            return self.lesson(title, body, "discussion topic, as text")
        if "imsqti_xmlv1p2" in kind:
            return self.quiz(title, res)
        why = {
            "assignment": "assignments are not converted",
            "imsbasiclti": "external (LTI) tools need the internet",
        }
        reason = next((w for k, w in why.items() if k in kind), f"resource type {kind}")
        self.report.skip(title, reason)
        return None


def _title(el: ET.Element) -> str:
    title = child(el, "title")
    return " ".join((title.text or "").split()) if title is not None else ""


def convert(zf: zipfile.ZipFile, report: ImportReport) -> tuple[list, dict[str, bytes], str]:
    """Return (modules, files, course title) of a cartridge; modules are (slug, title, items)."""
    root = parse_xml(zf.read("imsmanifest.xml"), "imsmanifest.xml")
    course = _Course(zf, report)
    resources = {r.get("identifier"): r for r in descendants(root, "resource")}
    meta_title = next((t for t in descendants(root, "string") if (t.text or "").strip()), None)
    title = (meta_title.text or "").strip() if meta_title is not None else ""
    orgs = descendants(root, "organization")
    modules: list[tuple[str, str, list[dict[str, Any]]]] = []
    top = orgs[0] if orgs else None
    sections = [i for i in top.iter() if local(i.tag) == "item"] if top is not None else []
    # A section is an item whose children are items; the root item holds the sections.
    seen: set[int] = set()
    for section in sections:
        kids = children(section, "item")
        if not kids or section.get("identifierref") or any(children(k, "item") for k in kids):
            continue
        items = []
        for entry in kids:
            seen.add(id(entry))
            ref = entry.get("identifierref")
            name = _title(entry) or "item"
            if not ref:
                report.skip(name, "a text header, kept out")
                continue
            res = resources.get(ref)
            if res is None:
                report.skip(name, f"the resource {ref} is not in the cartridge")
                continue
            if (made := course.item(name, res)) is not None:
                items.append(made)
        section_title = _title(section) or "section"
        modules.append((slugify(section_title)[:60] or "section", section_title, items))
    if not any(items for _, _, items in modules):
        # No organisation (or an empty one): the cartridge's pages, links and topics, in order.
        items = []
        for res in resources.values():
            kind = res.get("type", "")
            href = res.get("href") or ""
            if kind == "webcontent" and PurePosixPath(href).suffix.lower() not in HTML_ENDINGS:
                continue
            if kind.startswith("associatedcontent") or kind.endswith("_fallback"):
                continue  # files that belong to another resource
            if kind == "webcontent" and not href:
                continue
            name = PurePosixPath(href).stem.replace("-", " ") if href else ""
            if (
                not name
                and kind.startswith(("imswl_", "imsdt_"))
                and (root_el := course.xml_of(res)) is not None
            ):
                name = _title(root_el)
            name = name or res.get("identifier", "item")
            if (made := course.item(name, res)) is not None:
                items.append(made)
        modules = [("resources", title or "resources", items)]
    return modules, course.files, title
