"""What a phone downloads to keep a course for studying without the Wi-Fi (issue 23).

``course_plan`` lists a course's pages (the course page and one page per item) and the pack
files its items show (videos, captions, posters, images, PDFs, audio), with their sizes, and
the pack version they belong to. The phone shows the size before it downloads anything,
downloads those URLs into its own storage, and downloads again when the version changes.

Media sizes are exact (the pack manifest records every file's size). A page's size is known
only once it is rendered, so it is estimated from the lesson text plus the page's frame;
the phone counts what it actually stored. HTML5 activities are not kept: their files are
served under a short-lived signed path and need the Wi-Fi.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from content_packs.models import Course, Item, Pack

from ..accounts.models import User
from .courses import course_outline

# The frame every page has around its content (header, navigation, forms), measured on the
# sample course's pages (about 5 to 7 KB each, Khmer UI); the lesson text comes on top.
PAGE_FRAME_BYTES = 7_000
# Item types whose page shows only what it holds, with no file of its own to keep offline.
NOT_KEPT = ("html5",)


@dataclass(frozen=True)
class KeptFile:
    """A pack file a course's page shows: its content-store reference and size in bytes."""

    sha256: str
    path: str
    size: int

    def ref(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "path": self.path, "size": self.size}


@dataclass
class CoursePlan:
    """What keeping one course on a phone takes."""

    course: str
    version: str  # changes with every install or upgrade of the pack
    pack_version: str  # the pack's semantic version, for people
    items: list[str] = field(default_factory=list)  # item keys with a page to keep
    skipped: list[str] = field(default_factory=list)  # items that need the Wi-Fi
    files: list[KeptFile] = field(default_factory=list)
    page_bytes: int = 0

    @property
    def file_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def bytes(self) -> int:
        return self.page_bytes + self.file_bytes


def file_refs(data: Any) -> list[dict[str, Any]]:
    """Return every pack-file reference (a dict with ``sha256``) in an item's data, in order."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("sha256"), str):
                found.append(value)
                return
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(data)
    return found


def course_plan(user: User, course_key: str, lang: str) -> CoursePlan:
    """Return the pages and files a phone stores to keep ``course_key`` for ``user``.

    Raises:
        CourseNotFound: no such course, or ``user`` may not open it.
    """
    course_outline(user, course_key, lang)  # the same rule as the course page
    course = (
        Course.select(Course.id, Pack.version, Pack.pack_id, Pack.manifest_sha256, Pack.id)
        .join(Pack)
        .where(Course.key == course_key)
        .first()
    )
    pack = course.pack
    plan = CoursePlan(
        course=course_key,
        version=f"{pack.pack_id}:{pack.version}:{pack.manifest_sha256}",
        pack_version=pack.version,
        page_bytes=PAGE_FRAME_BYTES,  # the course page
    )
    seen: set[str] = set()
    rows = (
        Item.select(Item.key, Item.type, Item.body, Item.data)
        .where(Item.course == course.id)
        .order_by(Item.position, Item.id)
    )
    for row in rows:
        if row.type in NOT_KEPT:
            plan.skipped.append(row.key)
            continue
        plan.items.append(row.key)
        plan.page_bytes += PAGE_FRAME_BYTES + len((row.body or "").encode())
        for ref in file_refs(json.loads(row.data or "{}")):
            if ref["sha256"] in seen:
                continue
            seen.add(ref["sha256"])
            plan.files.append(
                KeptFile(ref["sha256"], str(ref.get("path") or ""), int(ref.get("size") or 0))
            )
    return plan
