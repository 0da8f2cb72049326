"""What a draft looks like to learners before it is published: sanitised lessons, quizzes.

Lessons are rendered by the same function as at install (``lessons.render_lesson``); the
draft's images are served to its editors from ``/authoring/<draft>/media/<sha256>``.
"""

from __future__ import annotations

from typing import Any

from ..lessons import render_lesson
from ..manifest import mime_for
from ..urls import content_url
from . import drafts
from .models import DraftMedia


def media_url(draft_id: str, sha256: str) -> str:
    return f"/authoring/{draft_id}/media/{sha256}"


def _refs(draft_id: str | None) -> dict[str, dict[str, Any]]:
    if not draft_id:
        return {}
    rows = DraftMedia.select().where(DraftMedia.draft == str(draft_id))
    return {m.path: {"path": m.path, "sha256": m.sha256, "size": m.size} for m in rows}


def render_markdown(text: str, draft_id: str | None = None, fmt: str = "markdown") -> str:
    """Return the sanitised HTML of a lesson, its draft images linked for the editor."""
    refs = _refs(draft_id)
    html, _text = render_lesson(text, fmt, "lessons/preview.md", refs)
    for ref in refs.values():
        html = html.replace(content_url(ref), media_url(str(draft_id), ref["sha256"]))
    return html


def preview_items(draft_id: str) -> list[dict[str, Any]]:
    """Return the draft's items in order, each with what the learner's page shows."""
    draft = drafts.as_json(draft_id)
    media = {m["path"]: m for m in draft["media"]}
    out = []
    for module in draft["modules"]:
        for item in module["items"]:
            shown = {**item, "module": module["title"]}
            if item["type"] == "lesson":
                shown["html"] = render_markdown(
                    item.get("body_md", ""), draft_id, item.get("format") or "markdown"
                )
            elif item["type"] == "task":
                task = item.get("task") or {}
                text = (task.get("instructions") or {}).get("km", "")
                shown["html"] = render_markdown(text, draft_id)
            elif item.get("file") in media:
                shown["url"] = media_url(draft_id, media[item["file"]]["sha256"])
                shown["mime"] = mime_for(item["file"])
                shown["tracks"] = [
                    {**c, "url": media_url(draft_id, media[c["file"]]["sha256"])}
                    for c in item.get("captions") or []
                    if c.get("file") in media
                ]
            out.append(shown)
    return out
