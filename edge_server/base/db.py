"""The site database handle: one peewee SqliteDatabase, initialised by the app factory.

Pragmas follow the design: WAL, foreign keys, a busy timeout, and ``synchronous=FULL``
because power cuts are common and an event a phone was told is saved must survive one.
sqlite-utils, where used, wraps this same connection (``sqlite_utils_db()``).
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peewee import AutoField, Model, OperationalError, SqliteDatabase

PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "full",
    # 512 KB page cache per connection: the server keeps one connection per thread (8 by
    # default, per worker) and each filled its cache in time (2 MB each: 16 MB of a worker
    # after a day's pages, issue 22); the OS page cache holds the file anyway.
    "cache_size": -512,
    "temp_store": "memory",
}

WRITE_LOCKS = ("IMMEDIATE", "EXCLUSIVE")
# How long opening the database waits out "database is locked": as long as a writer waits
# (busy_timeout) and more, since a slow machine (CI's, a Pi 3 under a class) can keep
# several processes migrating a new database for longer than a few seconds.
CONNECT_PATIENCE_S = 20.0


class SiteDatabase(SqliteDatabase):
    """SqliteDatabase whose write transactions queue on a lock file, across processes too.

    With several server processes, SQLite's own busy handler makes a writer that finds the
    database locked sleep and poll (up to 100 ms a try): under a burst of event batches the
    slowest waited seconds. ``BEGIN IMMEDIATE``/``EXCLUSIVE`` first take an ``flock`` on
    ``<database>-writer.lock``, where the kernel wakes the next writer as soon as the last
    one commits; SQLite's lock and ``busy_timeout`` still guard every other writer.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writer = threading.local()

    def _connect(self):  # peewee's signature
        """Open a connection, retrying while another process switches a new file to WAL.

        ``PRAGMA journal_mode=wal`` on a brand-new database needs an exclusive lock and
        answers "database is locked" without waiting when another process holds it — as
        when the site server and the sync daemon start together on a Pi's first boot. The
        error here is sqlite3's own (peewee wraps it only later, in ``connect``).
        """
        give_up = time.monotonic() + CONNECT_PATIENCE_S
        pause = 0.02
        while True:
            try:
                return super()._connect()  # type: ignore[misc]  # peewee's stubs omit it
            except (sqlite3.OperationalError, OperationalError) as exc:
                if "locked" not in str(exc) or time.monotonic() >= give_up:
                    raise
                time.sleep(pause)
                pause = min(pause * 1.5, 0.25)

    def _writer_fd(self) -> int | None:
        path = self.database
        if not path or path == ":memory:" or str(path).startswith("file:"):
            return None
        held = getattr(self._writer, "file", None)
        if held is None or held[0] != path:
            if held is not None:
                os.close(held[1])
            fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._writer.file = held = (path, fd)
        return held[1]

    def begin(self, lock_type: str | None = None) -> None:
        """Begin a transaction (IMMEDIATE unless told otherwise), queueing on the writer lock.

        Every transaction in Kru writes. A deferred one that reads first and writes later
        fails at once with "database is locked" when another process wrote in between
        (SQLite cannot wait there without risking deadlock), so transactions take the write
        lock from their first statement, waiting for it as long as ``busy_timeout`` allows.
        """
        lock_type = lock_type or "IMMEDIATE"
        fd = self._writer_fd() if (lock_type or "").upper() in WRITE_LOCKS else None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._writer.locked = fd
        try:
            super().begin(lock_type)
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self) -> None:
        fd = getattr(self._writer, "locked", None)
        if fd is not None:
            self._writer.locked = None
            fcntl.flock(fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release_writer()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release_writer()


db = SiteDatabase(None)


class BaseModel(Model):
    """Base of every site model: bound to ``db``; tables are made by migrations only."""

    if TYPE_CHECKING:
        # peewee adds this primary key at run time to each model that names none of its own
        # (Progress has a composite key instead); declared here for the type checker only.
        id = AutoField()

    class Meta:
        database = db
        legacy_table_names = False


def utcnow() -> str:
    """Return the current UTC time as ISO 8601 text (how Kru stores times)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def init_db(path: str | Path, **pragmas: object) -> SqliteDatabase:
    """Point the shared handle at ``path`` with Kru's pragmas and return it."""
    if not db.is_closed():
        db.close()
    db.init(str(path), pragmas={**PRAGMAS, **pragmas}, check_same_thread=False)
    return db


def connect_kept() -> None:
    """Connect this thread's handle, opening a new connection if the kept one was closed
    underneath peewee (``sqlite3.Connection.close()`` called directly on it)."""
    if not db.is_closed() and not _usable(db.connection()):
        db.close()  # closing a closed sqlite3 connection again is harmless; peewee forgets it
    db.connect(reuse_if_open=True)


def release_kept() -> None:
    """End a request on a kept connection: roll back what a failed request left open, and
    drop a connection that was closed underneath (the next request opens a new one)."""
    if db.is_closed():
        return
    connection = db.connection()
    if not _usable(connection):
        db.close()
    elif connection.in_transaction:  # left open by a failed request
        connection.rollback()


def _usable(connection: sqlite3.Connection) -> bool:
    try:
        connection.in_transaction  # noqa: B018  # raises once the connection is closed
    except sqlite3.ProgrammingError:
        return False
    return True


def close_db() -> None:
    """Close this thread's connection if open (before a fork: a connection must not cross)."""
    if not db.is_closed():
        db.close()


def as_one_row(sql: str, columns: tuple[str, ...]) -> str:
    """Return SQL giving the rows of ``sql`` as one JSON array of arrays (``rows_of``).

    Python's sqlite3 lets go of the interpreter's lock for every row it steps through, and
    in a busy server another thread takes it each time: on a Pi's core a learner page whose
    query read 60 rows switched threads about 120 times (``bench.cpu_cost``'s
    ``switches_per_request``, issue 22). Fetched as one row, the page switches once.
    ``columns`` name the columns of ``sql``'s result, in order.
    """
    # Both parts are the program's own SQL and column names, never a request's values.
    return f"SELECT json_group_array(json_array({', '.join(columns)})) FROM ({sql})"  # noqa: S608


def rows_of(sql: str, params: list[Any]) -> list[list[Any]]:
    """Run SQL made by ``as_one_row`` and return its rows as lists (JSON's types)."""
    (text,) = db.execute_sql(sql, params).fetchone()
    return json.loads(text)


def compiled(query: Any) -> str:
    """Return the SQL of a peewee query written with ``SQL("?")`` for each value it takes.

    A hot page builds such a query once (``functools.cache``) from the models of the tables'
    owners and runs it with ``db.execute_sql(sql, params)``: peewee spent milliseconds per
    request building the same SQL again.

    Raises:
        ValueError: the query holds bound values, whose place among the ``?`` is unknown.
    """
    sql, params = query.sql()
    if params:
        raise ValueError(f"the query binds values {params!r}: write SQL('?') instead")
    return sql


def raw_models(model: Any, sql: str, params: Sequence[Any]) -> list[Any]:
    """Return the rows of ``sql`` as instances of ``model``, what ``model.raw(sql, *params)``
    makes, without peewee's query and row wrappers (half the cost of a hot page's small
    query, issue 22).

    A column of ``model``'s table becomes its field, with the field's Python value; any
    other column a plain attribute. The cursor is read to its end and closed, so no read
    transaction stays open on a kept connection.
    """
    cursor = model._meta.database.execute_sql(sql, params)
    try:
        rows = cursor.fetchall()
        names = tuple(entry[0] for entry in cursor.description) if rows else ()
    finally:
        cursor.close()
    return models_of(model, names, rows)


def models_of(model: Any, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Any]:
    """Return ``rows``, whose columns are ``names``, as instances of ``model`` (as
    ``raw_models`` does; for rows read from ``as_one_row``'s JSON too)."""
    if not rows:
        return []
    columns = _raw_columns(model, tuple(names))
    found = []
    for row in rows:
        instance = model(__no_default__=1)
        data = instance.__data__
        for (name, convert, is_field), value in zip(columns, row, strict=True):
            if convert is not None:
                value = convert(value)
            if is_field:
                data[name] = value
            else:
                setattr(instance, name, value)
        found.append(instance)
    return found


@functools.cache
def _raw_columns(model: Any, names: tuple[str, ...]) -> tuple[tuple[str, Any, bool], ...]:
    """(attribute, converter, is a field) per result column, resolved as peewee resolves a
    raw query's columns (``peewee._resolve_model_columns`` without a select list)."""
    combined = model._meta.combined
    found = []
    for name in names:
        column = name[name.rfind(".") + 1 :].strip('()"`')
        model_field = combined.get(column)
        if model_field is None:
            found.append((column, None, False))
        else:
            found.append((model_field.name, model_field.python_value, True))
    return tuple(found)


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
