"""Back up to and restore from a USB stick from the Site page, without a shell (issue 19).

"Open" asks the root helper to mount a plugged-in stick read-only under ``backup.usb_root``;
"Back up to USB" remounts it read-write, writes a complete backup (:mod:`.backup`: database
snapshot, content, submissions, device identity, manifest with checksums), and mounts it
read-only again; "Eject" unmounts it. "Restore" checks the chosen backup completely and
copies it into ``restore-pending/`` in the data directory, then asks the helper to restart
Kru: the server swaps it in at start (:func:`apply_pending_restore`), before it opens the
database, so nothing holds the old file while it is replaced.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peewee import Database

from sync import usb_protocol
from sync.edge import state as sync_state
from sync.edge import usb_export
from sync.edge.identity import load_identity

from ..base.datahome import DataHome, write_file_atomically
from ..base.db import db as shared_db
from ..base.errors import N_, NotFound, StorageError
from ..base.settings import Settings
from ..system import helper, sticks
from . import backup
from .health import storage

log = logging.getLogger(__name__)

PENDING = "restore-pending"
_MB = 1024 * 1024
LAST = "usb-backup.json"  # when the last backup to a stick was made: the weekly reminder


def _root(settings: Mapping[str, Any]) -> Path:
    return Path(settings["backup.usb_root"])


def list_backups(stick: Path) -> list[dict[str, Any]]:
    """Return the Kru backups in the top folder of ``stick``, newest first."""
    found = []
    for folder in sorted(stick.glob(f"{backup.PREFIX}*"), reverse=True):
        if not folder.is_dir():
            continue
        try:
            manifest = backup.read_manifest(folder)
        except backup.BadBackup:
            continue
        size = manifest.get("database", {}).get("size", 0) + sum(
            e.get("size", 0)
            for key in ("content", "submissions", "secrets")
            for e in manifest.get(key, [])
        )
        found.append(
            {
                "name": folder.name,
                "created_at": manifest.get("created_at", ""),
                "kru_version": manifest.get("kru_version", "?"),
                "size_bytes": size,
            }
        )
    return found


def last_backup(home: DataHome) -> dict[str, Any] | None:
    """Return the record of the last backup to a stick (``at``, ``name``), or None."""
    try:
        return json.loads((home.root / LAST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def reminder(settings: Mapping[str, Any], home: DataHome, now: float | None = None) -> int | None:
    """Return the days since the last USB backup when it is older than the setting, else None.

    A site that never made one gets the reminder too (days is then -1).
    """
    days = settings["backup.remind_days"]
    if not days:
        return None
    now = time.time() if now is None else now
    last = last_backup(home)
    if last is None:
        return -1
    try:
        age = now - datetime.fromisoformat(last["at"]).timestamp()
    except (KeyError, ValueError):
        return -1
    return int(age // 86400) if age > days * 86400 else None


def panel(
    settings: Mapping[str, Any], home: DataHome, db: Database | None = None
) -> dict[str, Any]:
    """Return what the Site page's backup card shows: sticks, their backups, the last backup,
    and the learning records still waiting for central (to save on a stick)."""
    from sync.edge import update_stick  # the pack installer and requests: only when needed

    found = sticks.find(_root(settings), settings["system.sys_block"])
    for stick in found["mounted"]:
        stick["backups"] = list_backups(Path(stick["path"]))
        stick["updates"] = update_stick.read(Path(stick["path"]))  # issue 20: packs, Kru
    pending = sync_state.pending_events(db or shared_db)
    return {**found, "last": last_backup(home), "sync_pending": pending}


def open_stick(settings: Mapping[str, Any], device: str) -> None:
    """Mount the stick ``device`` read-only through the helper."""
    helper.run(settings, f"mount-{device}-ro")


def eject(settings: Mapping[str, Any], device: str) -> None:
    """Unmount the stick ``device`` through the helper, so it can be pulled out safely."""
    helper.run(settings, f"eject-{device}")


def _needed_bytes(home: DataHome) -> int:
    used = storage(home)
    submissions = sum(p.stat().st_size for p in home.submissions.rglob("*") if p.is_file())
    return used["database_bytes"] + used["content_bytes"] + submissions


def back_up(settings: Mapping[str, Any], home: DataHome, device: str) -> str:
    """Write a complete backup of the site to the stick ``device``; return the backup's name.

    Raises:
        NotFound: the stick is not mounted.
        StorageError: code ``stick_full``, the stick has not room for it; or it failed writing.
        HelperFailed: the helper could not remount the stick.
    """
    path = sticks.stick_path(_root(settings), device)
    helper.run(settings, f"mount-{device}-rw")
    try:
        need = _needed_bytes(home)
        usage = shutil.disk_usage(path)
        free = usage.free
        # A file system that does not say (total 0, as FUSE FAT does) fails with ENOSPC instead.
        if usage.total and need > free:
            raise StorageError(
                N_("The USB stick has %(free)s MB free but the backup needs %(need)s MB"),
                code="stick_full",
                free=free // _MB,
                need=-(-need // _MB),
            )
        made = backup.backup_site(home, path)
    finally:
        helper.run(settings, f"mount-{device}-ro")
    record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "name": made.name}
    write_file_atomically(home.root / LAST, json.dumps(record), mode=0o640)
    return made.name


def stage_restore(settings: Mapping[str, Any], home: DataHome, device: str, name: str) -> None:
    """Check the backup ``name`` on the stick completely and stage it for the next start.

    Raises:
        NotFound: the stick is not mounted or holds no such backup.
        BadBackup: the backup is damaged (a checksum differs) or not a Kru backup.
        KruError: code ``schema_too_new``, made by a newer Kru.
    """
    stick = sticks.stick_path(_root(settings), device)
    folder = stick / name
    if not name.startswith(backup.PREFIX) or "/" in name or not folder.is_dir():
        raise NotFound(
            N_("There is no backup %(name)s on the USB stick"), code="no_such_backup", name=name
        )
    manifest = backup.read_manifest(folder)
    backup.check_schema(manifest)
    staging = home.root / f".{PENDING}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    try:
        backup.stage(folder, manifest, staging)
        (staging / backup.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(home.root / PENDING, ignore_errors=True)
    staging.rename(home.root / PENDING)
    log.info("staged the backup %s for the next start", name)


def restart(settings: Mapping[str, Any]) -> None:
    """Ask the helper to restart Kru (which swaps a staged restore in)."""
    helper.run(settings, "restart")


def apply_pending_restore(home: DataHome) -> str | None:
    """Swap a staged restore in, if there is one; return the backup's creation time.

    Called at start, before anything opens the database. The old database is kept in
    ``backups/`` (``backup.swap_in``).
    """
    pending = home.root / PENDING
    if not (pending / backup.MANIFEST).is_file():
        shutil.rmtree(home.root / f".{PENDING}.partial", ignore_errors=True)
        return None
    manifest = json.loads((pending / backup.MANIFEST).read_text(encoding="utf-8"))
    backup.swap_in(home, pending, manifest)
    shutil.rmtree(pending, ignore_errors=True)
    log.warning("restored the site from the USB backup made %s", manifest.get("created_at"))
    return str(manifest.get("created_at", ""))


def read_sync_ack(home: DataHome, db: Database, stick: Path) -> int | None:
    """Read central's acknowledgement on the stick, if there is one; return the new cursor.

    Central writes it when it imports the sync data the site saved there (issue 20 item 4);
    the cursor moves only forward, never past what the site holds.

    Raises:
        UsbSyncError: code ``usb_bad_ack``, the file is damaged or not signed by central.
    """
    identity = load_identity(home)
    ack = usb_protocol.device_dir(stick, identity.device_id) / usb_protocol.ACK_FILE
    if not ack.is_file():
        return None
    return usb_export.import_ack(db, identity, stick, home=home)[1]


def save_sync_data(settings: Settings, home: DataHome, db: Database, device: str) -> dict[str, Any]:
    """Write the learning records central has not acknowledged to the stick ``device``.

    First reads central's acknowledgement if the stick brought one back (so records central
    already holds are not written again), then writes the pending batches exactly as
    ``kru sync export`` does; the cursor does not move until central acknowledges them.

    Raises:
        NotFound: the stick is not mounted.
        UsbSyncError: the stick could not be written, or its acknowledgement is forged.
        HelperFailed: the helper could not remount the stick.
    """
    path = sticks.stick_path(_root(settings), device)
    acked = read_sync_ack(home, db, path)
    helper.run(settings, f"mount-{device}-rw")
    try:
        written = usb_export.export_batches(settings, db, load_identity(home), path)
    finally:
        helper.run(settings, f"mount-{device}-ro")
    return {"events": written.events, "batches": written.batches, "cursor": acked}
