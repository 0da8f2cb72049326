"""Numbered, named schema migrations, applied one transaction each and recorded.

A migrations package holds modules named ``mNNNN_what.py``, each with
``apply(db: peewee.Database) -> None``. Each feature keeps its own package; a database's
packages are given together and their migrations run in one order, by number, so numbers
are unique across them. The same runner serves the site database and the central server
(SQLite or PostgreSQL), so migrations use portable SQL or peewee's schema helpers.

Both servers apply pending migrations when they start (the site backs its database up
first), and so do the ``kru`` commands that change a site. ``kru sync status`` only reads:
it refuses a database with pending migrations (``PendingMigrations``, naming the command
that applies them); ``kru doctor`` and ``/healthz`` report them.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType

from peewee import Database, OperationalError, PostgresqlDatabase, SqliteDatabase

from .errors import N_, KruError

log = logging.getLogger(__name__)

TABLE = "kru_migrations"
_NAME = re.compile(r"^m(\d{4})_[a-z0-9_]+$")
_LOCK_KEY = 7_262_013  # pg advisory lock id: two central processes starting at once


@dataclass(frozen=True)
class Migration:
    name: str
    apply: Callable[[Database], None]


class PendingMigrations(KruError):
    code = "pending_migrations"
    status = 503


# One migrations package or several (a module object or its dotted name each).
Packages = str | ModuleType | Sequence[str | ModuleType]


def _modules(packages: Packages) -> list[ModuleType]:
    listed = [packages] if isinstance(packages, str | ModuleType) else list(packages)
    return [importlib.import_module(p) if isinstance(p, str) else p for p in listed]


def discover(packages: Packages) -> list[Migration]:
    """Return the migrations in ``packages``, in one order by number.

    Raises:
        KruError: two migrations share a number.
    """
    found = sorted(
        (info.name, pkg.__name__)
        for pkg in _modules(packages)
        for info in pkgutil.iter_modules(pkg.__path__)
        if _NAME.match(info.name)
    )
    numbers = [name[:5] for name, _pkg in found]
    if len(set(numbers)) != len(numbers):
        raise KruError(
            N_("Two migrations share a number in %(package)s"),
            package=", ".join(sorted({pkg for _name, pkg in found})),
        )
    return [Migration(n, importlib.import_module(f"{pkg}.{n}").apply) for n, pkg in found]


def _ensure_table(db: Database) -> None:
    # Under the lock: on PostgreSQL two processes running CREATE TABLE IF NOT EXISTS at the
    # same moment can both try to create it and one fails on the catalog's unique index.
    with _exclusive(db):
        db.execute_sql(
            f"CREATE TABLE IF NOT EXISTS {TABLE} ("
            "name VARCHAR(200) PRIMARY KEY, applied_at VARCHAR(40) NOT NULL)"
        )


def applied(db: Database) -> list[str]:
    """Return the names of the migrations recorded in ``db``, oldest first.

    One query on SQLite, which also shows that the database answers (``/healthz`` asks on
    every probe); a missing table is a database no migration ran on. PostgreSQL first asks
    whether the table exists: a failed query there aborts the transaction it runs in.
    """
    select = f"SELECT name FROM {TABLE} ORDER BY name"  # noqa: S608  # a constant
    if isinstance(db, SqliteDatabase):
        try:
            cursor = db.execute_sql(select)
        except OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return []
        return [row[0] for row in cursor]
    if TABLE not in db.get_tables():
        return []
    return [row[0] for row in db.execute_sql(select)]


def pending(db: Database, packages: Packages) -> list[Migration]:
    """Return the migrations of ``packages`` not yet applied to ``db``.

    Raises:
        KruError: the database was made by a newer Kru (it has migrations this one lacks).
    """
    return unapplied(applied(db), discover(packages))


def unapplied(done: Iterable[str], known: Sequence[Migration]) -> list[Migration]:
    """Return the migrations of ``known`` whose names are not in ``done`` (those applied).

    Raises:
        KruError: ``done`` names a migration this Kru lacks (a newer Kru made the database).
    """
    names = set(done)
    unknown = names - {m.name for m in known}
    if unknown:
        raise KruError(
            N_(
                "The database was made by a newer version of Kru (migration %(name)s is "
                "unknown here); install that version or restore an older backup"
            ),
            code="schema_too_new",
            name=sorted(unknown)[-1],
        )
    return [m for m in known if m.name not in names]


def migrate(db: Database, packages: Packages, target: str | None = None) -> list[str]:
    """Apply pending migrations of ``packages`` in order, up to and including ``target``.

    Each migration runs in its own transaction with its record, so a power cut leaves the
    database at the last completed step. Returns the names applied.
    """
    _ensure_table(db)
    done: list[str] = []
    for migration in pending(db, packages):
        with _exclusive(db):
            # Another process (a second central server, the sync daemon starting beside
            # the site server) may have applied it while we waited for the lock.
            if migration.name in applied(db):
                continue
            log.info("applying migration %s", migration.name)
            migration.apply(db)
            db.execute_sql(
                f"INSERT INTO {TABLE} (name, applied_at) VALUES ({db.param}, {db.param})",  # noqa: S608
                (migration.name, datetime.now(UTC).isoformat()),
            )
        done.append(migration.name)
        if target and migration.name == target:
            break
    return done


def _exclusive(db: Database):  # a context manager
    """Return a transaction that holds the database's write lock from its first statement."""
    if isinstance(db, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    transaction = db.atomic()
    if isinstance(db, PostgresqlDatabase):

        class _Locked:
            def __enter__(self):
                transaction.__enter__()
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                return transaction

            def __exit__(self, *exc):
                return transaction.__exit__(*exc)

        return _Locked()
    return transaction


def check_current(db: Database, packages: Packages, command: str) -> None:
    """Refuse to go on when migrations are pending.

    Raises:
        PendingMigrations: naming the command that applies them.
    """
    refuse_pending(pending(db, packages), command)


def refuse_pending(waiting: list[Migration], command: str) -> None:
    """Raises: PendingMigrations naming ``waiting`` and the command that applies them."""
    if waiting:
        raise PendingMigrations(
            N_("The database needs %(count)s migration(s) (%(names)s); run: %(command)s"),
            count=len(waiting),
            names=", ".join(m.name for m in waiting),
            command=command,
        )


def execute_all(db: Database, statements: list[str]) -> None:
    """Run each SQL statement in order (SQLite's driver takes one statement per call)."""
    for statement in statements:
        db.execute_sql(statement)


_CHECK_IN = r"CHECK \(\s*{column}\s+IN\s*\(([^)]*)\)\s*\)"


def allow_value(db: Database, table: str, column: str, value: str) -> None:
    """Let ``column`` of ``table`` take ``value`` too, widening its ``CHECK (column IN (...))``.

    SQLite cannot change a CHECK constraint with ALTER TABLE, and rebuilding a table that
    others refer to would cascade into them. Loosening a constraint changes no stored row, so
    SQLite's documented procedure applies (sqlite.org/lang_altertable.html, "otheralter"):
    rewrite the table's schema text with ``writable_schema`` and bump ``schema_version`` so
    every connection re-reads it, inside the caller's migration transaction. Appending to
    the list (not rewriting it) lets two features each add their own value.
    """
    (sql,) = db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    pattern = re.compile(_CHECK_IN.format(column=re.escape(column)))
    found = pattern.search(sql)
    if found is None:
        raise ValueError(f"{table}.{column} has no CHECK ({column} IN (...))")
    values = [v.strip() for v in found.group(1).split(",")]
    quoted = "'" + value.replace("'", "''") + "'"
    if quoted in values:
        return
    widened = sql[: found.start(1)] + ", ".join([*values, quoted]) + sql[found.end(1) :]
    (version,) = db.execute_sql("PRAGMA schema_version").fetchone()
    db.execute_sql("PRAGMA writable_schema = ON")
    try:
        db.execute_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (widened, table)
        )
        db.execute_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        db.execute_sql("PRAGMA writable_schema = OFF")
