"""Open the site database and bring its schema up to date (``kru migrate``)."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from peewee import SqliteDatabase

from ..base import migrate
from ..base.datahome import DataHome
from ..base.db import init_db

log = logging.getLogger(__name__)

PACKAGE = "edge_server.migrations"
KEEP_BACKUPS = 3


def open_database(home: DataHome) -> SqliteDatabase:
    """Initialise the shared handle on the site database in ``home``."""
    return init_db(home.database)


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
    waiting = migrate.pending(db, PACKAGE)
    if not waiting:
        return []
    if migrate.applied(db):
        path = backup_before_migrating(home, waiting[0].name)
        log.info("backed up the database to %s before migrating", path)
    return migrate.migrate(db, PACKAGE, target=target)


def check(home: DataHome) -> None:
    """Raises: PendingMigrations naming ``kru migrate`` when the schema is behind."""
    migrate.check_current(open_database(home), PACKAGE, "kru migrate")
