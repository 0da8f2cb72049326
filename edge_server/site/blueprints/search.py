"""Search installed packs: the page ``/search`` and ``GET /api/v1/search?q=``.

Learners find only courses they may open (open courses and those assigned to their
cohorts); instructors and admins find everything installed.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from flask import Blueprint, jsonify, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup, escape

from content_packs import search as pack_search
from content_packs.models import Course

from ...base.errors import N_, ValidationError
from ...learning.courses import assigned_course_keys
from ...web.auth import role_required

bp = Blueprint("search", __name__)

MAX_QUERY = 200
_WHITESPACE = str.maketrans("\t\n\r\x0b\x0c", "     ")


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"


def _visible_course_keys() -> list[str] | None:
    if current_user.role != "learner":
        return None
    keys = {c.key for c in Course.select(Course.key).where(Course.open == True)}  # noqa: E712
    return sorted(keys | assigned_course_keys(current_user._get_current_object()))


def _item_url(key: str) -> str:
    pack, _, slug = key.partition("/")
    return url_for("learn.item", pack=pack, slug=slug)


def clean_query(query: str) -> str:
    """Return ``query`` with tabs and line breaks as spaces.

    Raises:
        ValidationError: the query holds other control characters (NUL cut SQLite's
            full-text query short: "unterminated string", a 500 before issue 12).
    """
    query = query.translate(_WHITESPACE).strip()
    if any(unicodedata.category(ch) == "Cc" for ch in query):
        raise ValidationError(
            N_("The search text has characters that cannot be searched for; type words only"),
            code="invalid_query",
        )
    return query


def run_search(query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Return the hits for ``query`` that the signed-in user may see, each with its URL.

    Raises:
        ValidationError: the query is longer than 200 characters or holds control characters.
    """
    query = clean_query(query)
    if len(query) > MAX_QUERY:
        raise ValidationError(
            N_("The search text is too long; use at most %(limit)s characters"),
            code="query_too_long",
            limit=MAX_QUERY,
        )
    hits = pack_search.search(query, _lang(), limit=limit, course_keys=_visible_course_keys())
    for hit in hits:
        hit["url"] = _item_url(hit["key"])
    return hits


def highlight(text: str, query: str) -> Markup:
    """Return ``text`` escaped, with the words of ``query`` in <mark>."""
    terms = [t.casefold() for t in pack_search.normalize(query).split() if t]
    folded = text.casefold()
    out, i = [], 0
    while i < len(text):
        found = [(folded.find(t, i), t) for t in terms]
        found = [(at, t) for at, t in found if at >= 0]
        if not found:
            break
        at, term = min(found)
        out.append(escape(text[i:at]))
        out.append(Markup("<mark>") + escape(text[at : at + len(term)]) + Markup("</mark>"))
        i = at + len(term)
    out.append(escape(text[i:]))
    return Markup("").join(out)


@bp.get("/search")
@role_required()
def index():
    query = request.args.get("q", "").strip()
    hits = run_search(query) if query else []
    return render_template("search/index.html", query=query, hits=hits, highlight=highlight)


@bp.get("/api/v1/search")
@role_required()
def api_search():
    query = request.args.get("q", "").strip()
    if not query:
        raise ValidationError(N_("Type something to search for (?q=...)"), code="missing_query")
    try:
        limit = min(max(int(request.args.get("limit", 20)), 1), 100)
    except ValueError:
        raise ValidationError(N_("limit must be a whole number"), code="invalid_limit") from None
    return jsonify({"query": query, "hits": run_search(query, limit)})
