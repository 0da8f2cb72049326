"""Search the titles and lesson text of installed packs, Khmer and English.

The index is an FTS5 table with the trigram tokenizer (migration m0011): Khmer has no
spaces between words, and trigrams find a word anywhere inside running text. Terms shorter
than three characters cannot use the trigram index, so they fall back to LIKE.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from edge_server.base.db import db

# Invisible characters that real Khmer text carries between words (zero-width space,
# byte order mark, word joiner); removed from both the index and the query.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\ufeff\u2060"), None)
SNIPPET_CHARS = 80
MAX_TERMS = 8


def normalize(text: str) -> str:
    """Return ``text`` in NFC without zero-width spaces, as the index stores it."""
    return unicodedata.normalize("NFC", text).translate(_INVISIBLE)


def index_item(
    key: str, pack_id: str, item_type: str, title_km: str, title_en: str, body: str
) -> None:
    """Add one item to the index (call inside the install's transaction)."""
    db.execute_sql(
        "INSERT INTO search_index (key, pack, type, title_km, title_en, body) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (key, pack_id, item_type, normalize(title_km), normalize(title_en), normalize(body)),
    )


def unindex_pack(pack_id: str) -> None:
    """Remove every item of ``pack_id`` from the index."""
    db.execute_sql("DELETE FROM search_index WHERE pack = ?", (pack_id,))


def _terms(query: str) -> list[str]:
    return normalize(query).split()[:MAX_TERMS]


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Mc", "Cf")


def snippet(body: str, terms: list[str], size: int = SNIPPET_CHARS) -> str:
    """Return the part of ``body`` around the first term found, not cutting a Khmer cluster."""
    folded = body.casefold()
    at = min((i for t in terms if (i := folded.find(t.casefold())) >= 0), default=0)
    start = max(0, at - size // 2)
    while start > 0 and (_is_mark(body[start]) or body[start - 1] == "\u17d2"):
        start -= 1
    end = min(len(body), start + size)
    while end < len(body) and (_is_mark(body[end]) or body[end - 1] == "\u17d2"):
        end += 1
    text = body[start:end].strip()
    return ("…" if start > 0 else "") + text + ("…" if end < len(body) else "")


def search(
    query: str, lang: str, limit: int = 20, course_keys: list[str] | None = None
) -> list[dict[str, Any]]:
    """Return items whose title or lesson text holds every word of ``query``, best first.

    Each hit: ``key``, ``type``, ``title``, ``course_key``, ``course_title``, ``snippet``.
    ``course_keys`` limits hits to those courses (None: every installed course).
    """
    terms = _terms(query)
    if not terms:
        return []
    long_terms = [t for t in terms if len(t) >= 3]
    short_terms = [t for t in terms if len(t) < 3]
    where: list[str] = []
    params: list[Any] = []
    if long_terms:
        where.append("search_index MATCH ?")
        params.append(" AND ".join(_fts_phrase(t) for t in long_terms))
    for term in short_terms:
        where.append("(s.title_km || ' ' || s.title_en || ' ' || s.body) LIKE ? ESCAPE '\\'")
        params.append(_like(term))
    if course_keys is not None:
        if not course_keys:
            return []
        where.append(f"c.key IN ({', '.join('?' * len(course_keys))})")
        params += course_keys
    order = "bm25(search_index, 0, 0, 0, 10.0, 10.0, 1.0)" if long_terms else "s.rowid"
    # Only fixed SQL fragments are joined here; every value is a parameter.
    sql = (
        "SELECT s.key, s.type, s.title_km, s.title_en, s.body, c.key, c.title_km, c.title_en "  # noqa: S608
        "FROM search_index s JOIN items i ON i.key = s.key JOIN courses c ON c.id = i.course_id "
        f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?"
    )
    params.append(max(1, min(int(limit), 100)))
    hits = []
    for key, kind, t_km, t_en, body, c_key, c_km, c_en in db.execute_sql(sql, params):
        hits.append(
            {
                "key": key,
                "type": kind,
                "title": (t_en if lang == "en" else t_km) or t_km or t_en,
                "course_key": c_key,
                "course_title": (c_en if lang == "en" else c_km) or c_km or c_en,
                "snippet": snippet(body, terms) if body else "",
            }
        )
    return hits
