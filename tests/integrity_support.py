"""Damage for the integrity and recovery tests: a SQLite table's pages overwritten."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path


def damage_table(database: Path, table: str = "users") -> list[int]:
    """Overwrite the root pages of ``table`` and its indexes with random bytes; return them."""
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            row[0]
            for row in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE tbl_name = ? AND rootpage > 0", (table,)
            )
        ]
    assert pages, f"no pages for {table}"
    with open(database, "r+b") as fh:
        for page in pages:
            fh.seek((page - 1) * page_size)
            fh.write(os.urandom(page_size))
    return pages
