"""The central database: SQLite in the data directory, or PostgreSQL from a URL.

Models bind to ``database`` (a peewee DatabaseProxy) which ``connect_database`` points at the
real database. psycopg2 is imported only when a ``postgresql://`` URL is used.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase

from edge_server.base import migrate, passwords
from edge_server.base.errors import N_, ConfigError
from edge_server.base.settings import Settings

from . import migrations as central_migrations

database = DatabaseProxy()

MIGRATIONS = (central_migrations,)
SQLITE_NAME = "central.sqlite3"
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 30000,
    "synchronous": "full",
    "cache_size": -32000,
}


def postgres_from_url(url: str) -> PostgresqlDatabase:
    """Return a PostgresqlDatabase for ``postgresql://user:pw@host:port/name``.

    Raises:
        ConfigError: the URL is not a PostgreSQL URL with a database name.
    """
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if parts.scheme not in ("postgresql", "postgres") or not name:
        raise ConfigError(
            N_("central.database_url must look like postgresql://user@host:5432/name, not %(url)s"),
            url=parts.scheme + "://" + (parts.hostname or ""),
        )
    try:
        import psycopg2  # noqa: F401 - only needed on PostgreSQL
    except ImportError as exc:
        raise ConfigError(N_("PostgreSQL needs psycopg2: pip install 'kru[postgres]'")) from exc
    return PostgresqlDatabase(
        name,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        host=parts.hostname or None,
        port=parts.port or 5432,
        connect_timeout=10,
    )


def connect_database(settings: Settings) -> Database:
    """Point ``database`` at the configured central database and return it."""
    url = settings["central.database_url"]
    if url:
        real: Database = postgres_from_url(url)
    else:
        root = Path(settings.data_dir)
        root.mkdir(parents=True, exist_ok=True)
        real = SqliteDatabase(
            str(root / SQLITE_NAME), pragmas=SQLITE_PRAGMAS, check_same_thread=False
        )
    database.initialize(real)
    return real


def open_central(settings: Settings) -> Database:
    """Open the central database as the server and every ``kru central`` command do: set up
    password hashing, point ``database`` at it and apply pending migrations; return it.

    Raises:
        ConfigError: the database URL is not usable.
    """
    passwords.configure(
        settings["auth.hash_memory_kib"],
        settings["auth.hash_time_cost"],
        settings["auth.hash_concurrency"],
    )
    real = connect_database(settings)
    upgrade(real)
    return real


def upgrade(real: Database) -> list[str]:
    """Apply pending central migrations (safe with many processes on PostgreSQL)."""
    return migrate.migrate(real, MIGRATIONS)


def is_postgres(real: Database | DatabaseProxy) -> bool:
    target = real.obj if isinstance(real, DatabaseProxy) else real
    return isinstance(target, PostgresqlDatabase)
