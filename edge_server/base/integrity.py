"""Is a SQLite database file intact? ``quick_check`` answers with a typed result.

A power cut on an SD card can leave pages of the database garbled. SQLite then answers
"database disk image is malformed" on exactly the queries that touch those pages (signing
in, say) while everything else, ``/healthz``'s ``SELECT 1`` included, still works.
``PRAGMA quick_check`` reads every page and finds that; it costs a read of the whole file,
so the server runs it once at start and keeps the answer (``/healthz``, ``kru doctor``).
Recovery and snapshots build on this result. No Flask here.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import peewee

log = logging.getLogger(__name__)

MAX_FINDINGS = 10  # SQLite lists every broken page; the first few say enough
DAMAGE_MARKERS = ("malformed", "not a database", "corrupt")


@dataclass(frozen=True)
class Intact:
    """The database passed SQLite's check."""

    path: Path
    ok: Literal[True] = True
    status: Literal["ok"] = "ok"


@dataclass(frozen=True)
class Damaged:
    """The database is damaged; ``message`` is what SQLite said."""

    path: Path
    message: str
    ok: Literal[False] = False
    status: Literal["damaged"] = "damaged"

    def describe(self) -> str:
        """Return one line naming the file and SQLite's finding."""
        return f"{self.path} is damaged: {self.message}"


IntegrityResult = Intact | Damaged


def quick_check(path: str | Path) -> IntegrityResult:
    """Run ``PRAGMA quick_check`` on the database file at ``path`` (read-only).

    Never raises for a damaged or unreadable file: that is the answer ``Damaged``.
    """
    path = Path(path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        return Damaged(path, str(exc))
    try:
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA quick_check({MAX_FINDINGS})")]
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed", ...
        return Damaged(path, str(exc))
    finally:
        conn.close()
    if rows == ["ok"]:
        return Intact(path)
    result = Damaged(path, "; ".join(rows))
    log.error("%s", result.describe())
    return result


def is_damage(exc: BaseException) -> bool:
    """Return whether ``exc`` is SQLite saying the file is damaged (not busy, not a bug)."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError | peewee.DatabaseError) and any(
        marker in text for marker in DAMAGE_MARKERS
    )
