"""What ``/healthz`` and ``kru doctor`` report: version, database (integrity too), disk, config."""

from __future__ import annotations

import os
import shutil
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..base import diskspace, migrate
from ..base.datahome import DataHome
from ..base.db import db, sqlite_info
from ..base.integrity import Damaged, IntegrityResult, quick_check
from ..base.settings import Settings
from .database import known_migrations, open_database, pending

LOW_DISK_BYTES = 500 * 1024 * 1024


@cache
def kru_version() -> str:
    """Return the version of the running Kru (read once per process: reading the package's
    metadata parses a file, and the code serving does not change until it restarts)."""
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
    Everything that can change while the server runs is read on every call, cheaply: one
    query (the database answers, and which migrations it has), the free disk (statvfs).
    """
    problem: dict[str, str] = {}
    if isinstance(checked, Damaged):
        database = "damaged"
        problem = {"database_file": str(checked.path), "database_problem": checked.message}
    else:
        try:
            waiting = migrate.unapplied(migrate.applied(db), known_migrations())
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
            "current"
            if not waiting
            else f"{len(waiting)} migration(s) pending. Fix: run kru migrate, then restart Kru",
            not waiting,
        )
    )
    return rows


def doctor(settings: Settings) -> list[tuple[str, str, bool]]:
    """Return (check, finding, ok) rows for ``kru doctor``; a failed row says how to fix it."""
    rows: list[tuple[str, str, bool]] = []
    info = sqlite_info()
    rows.append(("SQLite version", str(info["sqlite_version"]), True))
    rows.append(
        (
            "FTS5 trigram tokenizer",
            "yes"
            if info["fts5_trigram"]
            else "missing: search cannot work. Fix: install Kru on Raspberry Pi OS bookworm or "
            "later (SQLite 3.34 or newer)",
            bool(info["fts5_trigram"]),
        )
    )
    home = DataHome(settings.data_dir)
    rows.append(
        (
            "Data directory",
            str(home.root)
            if home.root.is_dir()
            else f"{home.root} does not exist. Fix: run kru migrate (or sudo ./install.sh on a Pi)",
            home.root.is_dir(),
        )
    )
    if home.root.is_dir():
        rows += _disk_rows(home, settings)
        secrets_dir = home.secrets
        if secrets_dir.is_dir():
            mode = secrets_dir.stat().st_mode & 0o777
            ok = mode & 0o077 == 0
            rows.append(
                (
                    "Secrets directory mode",
                    oct(mode)
                    if ok
                    else f"{oct(mode)}: others can read the site's keys. "
                    f"Fix: chmod 700 {secrets_dir}",
                    ok,
                )
            )
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
        rows.append(
            (
                "Pack signatures",
                "only signed packs allowed but no trusted keys set. Fix: add the ministry's key "
                "to packs.trusted_keys in /etc/kru/kru.toml, or set packs.allow_unsigned = true",
                False,
            )
        )
    rows += _pi_rows(settings)
    return rows


def _disk_rows(home: DataHome, settings: Settings) -> list[tuple[str, str, bool]]:
    disk = diskspace.status(home.root, settings)
    free = f"{disk['free_bytes'] / 1e9:.1f} GB free"
    if not disk["low"]:
        return [("Free disk", free, True)]
    return [
        (
            "Free disk",
            f"{free}, under the warning of {settings['disk.warn_mb']} MB: learners' records stop "
            "when it is full. Fix: remove packs you no longer use on the Site page, or move old "
            f"files out of {home.root / 'backups'} to a USB stick",
            False,
        )
    ]


def _pi_rows(settings: Settings) -> list[tuple[str, str, bool]]:
    """Power, clock and the root helper: what only a Pi has (issue 19)."""
    from ..system import clock, power

    rows: list[tuple[str, str, bool]] = []
    flags = power.read(settings["system.throttled_file"])
    if flags["pi"] and flags.get("readable"):
        if flags["advice"] == "power_supply":
            rows.append(
                (
                    "Power supply",
                    f"under-voltage or throttling ({flags['flags']}). Fix: use an official "
                    "Raspberry Pi power supply and a short, thick cable; a weak supply damages "
                    "the SD card",
                    False,
                )
            )
        elif flags["advice"] == "cooling":
            rows.append(
                (
                    "Temperature",
                    f"the Pi got too hot and slowed down ({flags['flags']}). Fix: put it where "
                    "air moves, out of the sun",
                    False,
                )
            )
        else:
            rows.append(("Power supply", f"good ({flags['flags']})", True))
    if clock.synchronised(settings):
        rows.append(("Clock", "synchronised over the network", True))
    else:
        rows.append(
            (
                "Clock",
                "not synchronised since boot (no internet). If it is wrong, an admin sets it "
                "from their browser on the Site page",
                True,
            )
        )
    program = settings["system.helper"][0] if settings["system.helper"] else ""
    found = shutil.which(program) is not None
    rows.append(
        (
            "Root helper",
            program
            if found
            else f"{program or '(none)'} not found: the Site page cannot mount USB sticks, set "
            "the clock or restart Kru. Fix: run sudo ./install.sh from the Kru bundle again",
            found,
        )
    )
    return rows
