"""Lessons at install: Markdown or HTML to sanitised HTML, pack links to content URLs.

nh3 removes scripts, event-handler attributes and ``javascript:`` links; links and image
sources naming a pack file are rewritten to its content URL; the plain text goes to the
search index.
"""

from __future__ import annotations

import html
import posixpath
from copy import deepcopy
from typing import Any
from urllib.parse import unquote, urlsplit

import markdown
import nh3

from .urls import content_url

TAGS = set(nh3.ALLOWED_TAGS) | {"video", "audio", "source", "track", "section"}
ATTRIBUTES = deepcopy(nh3.ALLOWED_ATTRIBUTES)
ATTRIBUTES.setdefault("*", set()).update({"lang", "dir", "title"})
ATTRIBUTES["video"] = {"src", "controls", "poster", "width", "height", "preload"}
ATTRIBUTES["audio"] = {"src", "controls", "preload"}
ATTRIBUTES["source"] = {"src", "type"}
ATTRIBUTES["track"] = {"src", "kind", "srclang", "label", "default"}
ATTRIBUTES["img"] = set(ATTRIBUTES.get("img", set())) | {"src", "alt", "width", "height"}
LINK_ATTRIBUTES = {"href", "src", "poster"}
MARKDOWN_EXTENSIONS = ["extra", "sane_lists"]


def _rewriter(lesson_path: str, files: dict[str, dict[str, Any]]):
    base = posixpath.dirname(lesson_path)

    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in LINK_ATTRIBUTES:
            return value
        parts = urlsplit(value)
        if parts.scheme or parts.netloc or not parts.path or value.startswith("/"):
            return value
        path = unquote(parts.path)
        # Relative to the lesson first, then to the pack root (what instructors often write).
        ref = files.get(posixpath.normpath(posixpath.join(base, path))) or files.get(
            posixpath.normpath(path)
        )
        if ref is None:
            return value
        url = content_url(ref)
        return f"{url}#{parts.fragment}" if parts.fragment else url

    return rewrite


def render_lesson(
    source: str, fmt: str, lesson_path: str, files: dict[str, dict[str, Any]]
) -> tuple[str, str]:
    """Return (sanitised HTML, plain text) of a lesson.

    ``files`` maps pack paths to file references; links to them become content URLs.
    """
    raw = markdown.markdown(source, extensions=MARKDOWN_EXTENSIONS) if fmt == "markdown" else source
    body = nh3.clean(
        raw,
        tags=TAGS,
        attributes=ATTRIBUTES,
        clean_content_tags={"script", "style"},
        attribute_filter=_rewriter(lesson_path, files),
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return body, plain_text(body)


def plain_text(fragment: str) -> str:
    """Return the text of an HTML fragment with runs of whitespace made single spaces."""
    text = html.unescape(nh3.clean(fragment.replace("<", " <"), tags=set()))
    return " ".join(text.split())
