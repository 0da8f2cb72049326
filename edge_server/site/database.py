"""The site database: every feature's migrations in one order, and the one way to open a site.

Each feature owns its tables and keeps their migrations in its own package; ``MIGRATIONS``
lists those packages and the runner (``edge_server.base.migrate``) applies their migrations
in one order, by number. ``open_site`` is how the server and every ``kru`` command open a
site; ``upgrade`` is ``kru migrate``.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from peewee import Database, SqliteDatabase

from content_packs import migrations as packs_migrations
from content_packs.authoring import migrations as authoring_migrations
from sync.edge import migrations as sync_migrations
from sync.modem import migrations as modem_migrations

from ..accounts import migrations as accounts_migrations
from ..base import migrate, passwords
from ..base.datahome import DataHome
from ..base.db import init_db
from ..base.settings import Settings
from ..cpd import migrations as cpd_migrations
from ..learning import migrations as learning_migrations
from ..system import clock_epoch
from ..tasks import migrations as tasks_migrations
from ..web import migrations as web_migrations

log = logging.getLogger(__name__)

# Numbers: accounts 0001-0009 (and the web base's sign-in attempts, 0002), packs 0010-0019,
# learning 0020-0029, sync 0030-0039, modem 0040-0049, CPD 0060-0069, authoring 0070-0079,
# tasks 0090-0099; a new feature takes the next free decade.
MIGRATIONS = (
    accounts_migrations,
    web_migrations,
    packs_migrations,
    learning_migrations,
    sync_migrations,
    modem_migrations,
    cpd_migrations,
    authoring_migrations,
    tasks_migrations,
)
COMMAND = "kru migrate"
KEEP_BACKUPS = 3


def open_site(settings: Settings, *, migrate: bool = True) -> tuple[DataHome, SqliteDatabase]:
    """Open the site in ``settings.data_dir``: set up password hashing, make the data home,
    bring the schema up to date (or, with ``migrate=False``, refuse when it is behind) and
    point the shared handle at the database; return the data home and the handle.

    The server and every ``kru`` command open a site this way; commands that only read pass
    ``migrate=False`` so that running them never changes the database.

    Raises:
        PendingMigrations: ``migrate`` is False and migrations are pending (or there is no
            database yet); the message names ``kru migrate``.
        KruError: the data directory is unusable, or the database was made by a newer Kru.
    """
    passwords.configure(
        settings["auth.hash_memory_kib"],
        settings["auth.hash_time_cost"],
        settings["auth.hash_concurrency"],
    )
    home = DataHome(settings.data_dir).ensure()
    if migrate:
        upgrade(home)
    else:
        check(home)
    return home, open_database(home)


def open_database(home: DataHome) -> SqliteDatabase:
    """Initialise the shared handle on the site database in ``home``.

    Also keeps the clock epoch's record in ``home`` (``system.clock_epoch``): every process
    that opens the site then counts a change of the clock once.
    """
    clock_epoch.configure(home.root)
    return init_db(home.database)


@cache
def known_migrations() -> tuple[migrate.Migration, ...]:
    """Return the site migrations this code holds, looked for once per process: the code
    of a running server does not change under it (an upgrade starts new processes)."""
    return tuple(migrate.discover(MIGRATIONS))


def pending(db: Database) -> list[migrate.Migration]:
    """Return the site migrations not yet applied to ``db``."""
    return migrate.pending(db, MIGRATIONS)


def backup_before_migrating(home: DataHome, first_pending: str) -> Path | None:
    """Copy a database that already holds data, before a migration changes it."""
    if not home.database.exists():
        return None
    backups = home.root / "backups"
    backups.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    dest = backups / f"pre-{first_pending}-{stamp}.sqlite3"
    src = sqlite3.connect(home.database)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    for old in sorted(backups.glob("pre-*.sqlite3"))[:-KEEP_BACKUPS]:
        old.unlink()
    return dest


def upgrade(home: DataHome, target: str | None = None) -> list[str]:
    """Apply pending site migrations (backing up an existing database first); return names.

    Raises:
        KruError: the database was made by a newer Kru.
    """
    db = open_database(home)
    waiting = pending(db)
    if not waiting:
        return []
    if migrate.applied(db):
        path = backup_before_migrating(home, waiting[0].name)
        log.info("backed up the database to %s before migrating", path)
    return migrate.migrate(db, MIGRATIONS, target=target)


def check(home: DataHome) -> None:
    """Raises: PendingMigrations naming ``kru migrate`` when the schema is behind or there is
    no database yet (which is left uncreated)."""
    if home.database.exists():
        migrate.check_current(open_database(home), MIGRATIONS, COMMAND)
    else:
        migrate.refuse_pending(migrate.discover(MIGRATIONS), COMMAND)
