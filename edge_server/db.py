"""The site database handle: one peewee SqliteDatabase, initialised by the app factory.

Pragmas follow the design: WAL, foreign keys, a busy timeout, and ``synchronous=FULL``
because power cuts are common and an event a phone was told is saved must survive one.
sqlite-utils, where used, wraps this same connection (``sqlite_utils_db()``).
"""

from __future__ import annotations

from pathlib import Path

from peewee import SqliteDatabase

PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "full",
    # 2 MB page cache per connection: the server keeps one connection per thread (8 by
    # default, per worker), and the OS page cache holds the file anyway.
    "cache_size": -2000,
    "temp_store": "memory",
}

db = SqliteDatabase(None)


def init_db(path: str | Path, **pragmas: object) -> SqliteDatabase:
    """Point the shared handle at ``path`` with Kru's pragmas and return it."""
    if not db.is_closed():
        db.close()
    db.init(str(path), pragmas={**PRAGMAS, **pragmas}, check_same_thread=False)
    return db


def close_db() -> None:
    """Close this thread's connection if open (before a fork: a connection must not cross)."""
    if not db.is_closed():
        db.close()


def sqlite_utils_db():
    """Return a sqlite_utils.Database on peewee's own connection (never a second writer)."""
    import sqlite_utils

    return sqlite_utils.Database(db.connection())


def sqlite_info() -> dict[str, object]:
    """Return the SQLite library version and whether FTS5 with the trigram tokenizer works."""
    import sqlite3

    con = sqlite3.connect(":memory:")
    try:
        con.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
        trigram = True
    except sqlite3.Error:
        trigram = False
    finally:
        con.close()
    return {"sqlite_version": sqlite3.sqlite_version, "fts5_trigram": trigram}
