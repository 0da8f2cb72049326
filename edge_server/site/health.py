"""What ``/healthz`` and ``kru doctor`` report: version, database (integrity too), disk, config."""

from __future__ import annotations

import os
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..base.datahome import DataHome
from ..base.db import db, sqlite_info
from ..base.integrity import Damaged, IntegrityResult, quick_check
from ..base.settings import Settings
from .database import open_database, pending

LOW_DISK_BYTES = 500 * 1024 * 1024


def kru_version() -> str:
    try:
        return version("kru")
    except PackageNotFoundError:
        return "0+unknown"


def disk_free(home: DataHome) -> int:
    return shutil.disk_usage(home.root).free


def _tree_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                continue  # removed while we looked
    return total


def storage(home: DataHome) -> dict[str, int]:
    """Return bytes used by the database, the content store and backups, and disk free/total."""
    usage = shutil.disk_usage(home.root)
    database = sum(
        p.stat().st_size for p in (home.database, Path(f"{home.database}-wal")) if p.exists()
    )
    return {
        "database_bytes": database,
        "content_bytes": _tree_bytes(home.content),
        "backups_bytes": _tree_bytes(home.root / "backups"),
        "disk_free_bytes": usage.free,
        "disk_total_bytes": usage.total,
    }


def health(home: DataHome, checked: IntegrityResult | None = None) -> dict[str, Any]:
    """Return the health summary served at ``/healthz``.

    ``checked`` is the integrity check the server ran at start (kept, not rerun: it reads
    the whole file); a damaged database makes the status ``degraded``, naming the file.
    """
    problem: dict[str, str] = {}
    if isinstance(checked, Damaged):
        database = "damaged"
        problem = {"database_file": str(checked.path), "database_problem": checked.message}
    else:
        try:
            db.execute_sql("SELECT 1").fetchone()
            waiting = pending(db)
            database = "ok" if not waiting else "migrations_pending"
        except Exception as exc:  # health reports any failure as text
            database = f"error: {exc}"
    free = disk_free(home)
    return {
        "status": "ok" if database == "ok" else "degraded",
        "version": kru_version(),
        "database": database,
        **problem,
        "disk_free_bytes": free,
        "disk_low": free < LOW_DISK_BYTES,
    }


def _database_rows(home: DataHome, settings: Settings) -> list[tuple[str, str, bool]]:
    checked = quick_check(home.database)
    if isinstance(checked, Damaged):
        from .recovery import read_code

        rows = [
            (
                "Database integrity",
                f"{checked.describe()}. Fix: restart Kru (systemctl restart kru); it starts in "
                "recovery mode, where you restore a snapshot at http://<this Pi>/recovery",
                False,
            )
        ]
        code = read_code(settings["recovery.code_file"])
        if code:
            rows.append(
                (
                    "Recovery code",
                    f"{code}: open http://<this Pi>/recovery and sign in with it",
                    False,
                )
            )
        return rows
    rows = [("Database integrity", f"{home.database} passed SQLite's quick_check", True)]
    db_handle = open_database(home)
    try:
        waiting = pending(db_handle)
    finally:
        db_handle.close()
    rows.append(
        (
            "Database schema",
            "current" if not waiting else f"{len(waiting)} migration(s) pending: run kru migrate",
            not waiting,
        )
    )
    return rows


def doctor(settings: Settings) -> list[tuple[str, str, bool]]:
    """Return (check, finding, ok) rows for ``kru doctor``."""
    rows: list[tuple[str, str, bool]] = []
    info = sqlite_info()
    rows.append(("SQLite version", str(info["sqlite_version"]), True))
    rows.append(
        (
            "FTS5 trigram tokenizer",
            "yes" if info["fts5_trigram"] else "missing",
            bool(info["fts5_trigram"]),
        )
    )
    home = DataHome(settings.data_dir)
    rows.append(("Data directory", str(home.root), home.root.is_dir()))
    if home.root.is_dir():
        free = disk_free(home)
        rows.append(("Free disk", f"{free / 1e9:.1f} GB", free >= LOW_DISK_BYTES))
        secrets_dir = home.secrets
        if secrets_dir.is_dir():
            mode = secrets_dir.stat().st_mode & 0o777
            rows.append(("Secrets directory mode", oct(mode), mode & 0o077 == 0))
        if home.database.exists():
            rows += _database_rows(home, settings)
    if settings["host"] not in ("127.0.0.1", "::1", "localhost"):
        rows.append(
            (
                "Listening",
                f"{settings['host']}:{settings['port']} (reachable from the network)",
                True,
            )
        )
    if settings["packs.allow_unsigned"] is False and not settings["packs.trusted_keys"]:
        rows.append(("Pack signatures", "only signed packs allowed but no trusted keys set", False))
    return rows
