"""Back up a site to a folder (a USB stick) and restore it, e.g. onto a new SD card.

A backup is a folder ``kru-backup-<UTC time>/`` holding ``kru-backup.json`` (the manifest:
Kru version, schema migrations, and every file with its size and sha256), ``kru.sqlite3``
made with SQLite's online backup API (safe while the server runs), the content store
(``content/``), the files learners submitted for tasks (``submissions/``, always: unlike
packs they exist nowhere else) and the site's secrets (``secrets/``: the device identity and
session key, so a restored site is the same device to the central server). The manifest is
written last (under a temporary name, then renamed), so a stick pulled out mid-way never holds
something that looks like a backup; the folder itself is not renamed, because FAT drivers
that lose a renamed folder's files exist (fusefat does).

Restore checks everything before it changes anything: the manifest, every checksum, and the
schema (a backup made by a newer Kru is refused). A site that already has a database is only
replaced with ``force``, and its old database is kept in ``backups/`` first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..base import event_numbers, migrate, pidlock
from ..base.datahome import DataHome
from ..base.errors import N_, Conflict, KruError, StorageError, ValidationError
from . import database
from .health import kru_version

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "kru-backup.json"
DATABASE = "kru.sqlite3"
PREFIX = "kru-backup-"
_CHUNK = 1024 * 1024


class BadBackup(ValidationError):
    code = "bad_backup"


def _copy_hashed(src: Path, dest: Path, mode: int | None = None) -> tuple[str, int]:
    """Copy ``src`` to ``dest`` (fsynced) and return its sha256 and size in one read."""
    digest = hashlib.sha256()
    size = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(dest, flags, mode if mode is not None else 0o644)
    try:
        with open(src, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                os.write(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    return digest.hexdigest(), size


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _migrations_in(database: Path) -> list[str]:
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = con.execute(f"SELECT name FROM {migrate.TABLE} ORDER BY name").fetchall()  # noqa: S608
    except sqlite3.Error:
        rows = []
    finally:
        con.close()
    return [r[0] for r in rows]


def backup_site(home: DataHome, dest: Path, *, include_content: bool = True) -> Path:
    """Write a backup of the site in ``home`` into a new folder under ``dest``; return it.

    Raises:
        StorageError: ``dest`` is not a writable folder, or it filled up.
        KruError: the site has no database yet.
    """
    if not home.database.is_file():
        raise KruError(
            N_("There is no site database in %(path)s to back up"),
            code="nothing_to_back_up",
            path=str(home.root),
        )
    if not dest.is_dir():
        raise StorageError(
            N_("The backup destination %(path)s is not a folder"),
            code="backup_dest_missing",
            path=str(dest),
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    final = dest / f"{PREFIX}{stamp}"
    try:
        shutil.rmtree(final, ignore_errors=True)
        final.mkdir()
        manifest = _write_backup(home, final, include_content)
        manifest["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        written = final / f".{MANIFEST}.partial"
        with open(written, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(manifest, indent=1))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(written, final / MANIFEST)
    except OSError as exc:
        shutil.rmtree(final, ignore_errors=True)
        raise StorageError(
            N_("Cannot write the backup to %(path)s: %(problem)s"),
            path=str(dest),
            problem=exc.strerror or str(exc),
        ) from exc
    log.info("backed up the site to %s", final)
    return final


def _rollback_mode(database: Path) -> None:
    """Mark the closed copy ``database`` as a rollback-journal file, as ``PRAGMA
    journal_mode=DELETE`` would.

    The backup API copies the site's WAL flag (header bytes 18 and 19, both 2 in WAL mode,
    1 otherwise: sqlite.org/fileformat.html), so every later opening of the copy, read-only
    ones too, made -wal and -shm files beside it: clutter on a stick, and on a FUSE FAT stick
    the shared-memory file cannot be mapped at all ("disk I/O error"), so the PRAGMA itself
    fails there. The copy has no WAL file, so flipping the two bytes is all the PRAGMA does;
    the server turns WAL on again when it opens a restored database.
    """
    with open(database, "r+b") as fh:
        fh.seek(18)
        if fh.read(2) == b"\x02\x02":
            fh.seek(18)
            fh.write(b"\x01\x01")


def _write_backup(home: DataHome, work: Path, include_content: bool) -> dict[str, Any]:
    db_copy = work / DATABASE
    src = sqlite3.connect(f"file:{home.database}?mode=ro", uri=True)
    dst = sqlite3.connect(db_copy)
    try:
        src.backup(dst)  # the online backup API: a consistent copy while the server writes
    finally:
        dst.close()
        src.close()
    _rollback_mode(db_copy)
    content = []
    for path in _files(home.content):
        relative = path.relative_to(home.content).as_posix()
        if include_content:
            digest, size = _copy_hashed(path, work / "content" / relative)
        else:
            digest, size = _sha256(path), path.stat().st_size
        content.append({"path": relative, "sha256": digest, "size": size})
    submissions = []
    for path in _files(home.submissions):
        relative = path.relative_to(home.submissions).as_posix()
        digest, size = _copy_hashed(path, work / "submissions" / relative, 0o600)
        submissions.append({"path": relative, "sha256": digest, "size": size})
    secrets = []
    for path in _files(home.secrets):
        relative = path.relative_to(home.secrets).as_posix()
        digest, size = _copy_hashed(path, work / "secrets" / relative, 0o600)
        secrets.append({"path": relative, "sha256": digest, "size": size})
    return {
        "format": FORMAT,
        "kru_version": kru_version(),
        "migrations": _migrations_in(db_copy),
        "database": {"sha256": _sha256(db_copy), "size": db_copy.stat().st_size},
        "content_included": include_content,
        "content": content,
        "submissions": submissions,
        "secrets": secrets,
    }


def read_manifest(src: Path) -> dict[str, Any]:
    """Return the manifest of the backup folder ``src``.

    Raises:
        BadBackup: ``src`` is not a Kru backup, or is of an unknown format.
    """
    try:
        manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BadBackup(
            N_("%(path)s is not a Kru backup (no kru-backup.json)"), path=str(src)
        ) from exc
    except (OSError, ValueError) as exc:
        raise BadBackup(N_("The backup manifest in %(path)s is damaged"), path=str(src)) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadBackup(
            N_("The backup in %(path)s has an unknown format; use the Kru that made it"),
            path=str(src),
        )
    return manifest


def check_schema(manifest: dict[str, Any]) -> list[str]:
    """Return the migrations this Kru will apply after restoring the backup.

    Raises:
        KruError: code ``schema_too_new``, the backup was made by a newer Kru.
    """
    known = {m.name for m in migrate.discover(database.MIGRATIONS)}
    unknown = sorted(set(manifest.get("migrations", [])) - known)
    if unknown:
        raise KruError(
            N_(
                "The backup was made by a newer Kru (%(version)s, migration %(name)s); "
                "install that version before restoring"
            ),
            code="schema_too_new",
            version=manifest.get("kru_version", "?"),
            name=unknown[-1],
        )
    return sorted(known - set(manifest.get("migrations", [])))


def _server_running(home: DataHome) -> bool:
    """Whether a site server holds ``kru.pid`` (a file left by a power cut does not count)."""
    return pidlock.running_pid(home.pid_file) is not None


def _safe_relative(relative: str) -> str:
    parts = Path(relative).parts
    if not parts or Path(relative).is_absolute() or ".." in parts:
        raise BadBackup(N_("The backup names an unsafe path %(path)s"), path=relative)
    return relative


def restore_site(home: DataHome, src: Path, *, force: bool = False) -> dict[str, Any]:
    """Replace the site in ``home`` with the backup in ``src``; return the backup's manifest.

    Raises:
        BadBackup: not a backup, damaged, or a file's checksum does not match.
        KruError: code ``schema_too_new`` for a backup from a newer Kru.
        Conflict: the server is running, or the site has data and ``force`` is not given.
    """
    manifest = read_manifest(src)
    check_schema(manifest)
    if _server_running(home):
        raise Conflict(
            N_("The site server is running; stop it first (systemctl stop kru kru-sync)"),
            code="site_running",
        )
    if home.database.exists() and not force:
        raise Conflict(
            N_("%(path)s already holds a site; add --force to replace it (it is kept in backups/)"),
            code="site_not_empty",
            path=str(home.root),
        )
    home.ensure()
    staging = Path(tempfile.mkdtemp(prefix="restore-", dir=home.tmp))
    try:
        stage(src, manifest, staging)
        swap_in(home, staging, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("restored the site from %s", src)
    return manifest


def stage(src: Path, manifest: dict[str, Any], staging: Path) -> None:
    """Copy every file of the backup into ``staging``, checking each checksum."""
    entries: list[tuple[str, Any, int | None]] = [(DATABASE, manifest.get("database", {}), None)]
    if manifest.get("content_included"):
        entries += [(f"content/{_safe_relative(e['path'])}", e, None) for e in manifest["content"]]
    entries += [
        (f"submissions/{_safe_relative(e['path'])}", e, 0o600)
        for e in manifest.get("submissions", [])  # backups made before tasks have none
    ]
    entries += [(f"secrets/{_safe_relative(e['path'])}", e, 0o600) for e in manifest["secrets"]]
    for relative, entry, mode in entries:
        try:
            digest, size = _copy_hashed(src / relative, staging / relative, mode)
        except FileNotFoundError as exc:
            raise BadBackup(
                N_("The backup is incomplete: %(file)s is missing"), file=relative
            ) from exc
        except OSError as exc:
            raise BadBackup(
                N_("Cannot read %(file)s from the backup: %(problem)s"),
                file=relative,
                problem=exc.strerror or str(exc),
            ) from exc
        if digest != entry.get("sha256") or size != entry.get("size"):
            raise BadBackup(
                N_("The backup is damaged: %(file)s does not match its checksum"), file=relative
            )


def _keep_old_database(home: DataHome) -> None:
    """Keep the database a restore replaces in ``backups/``: a copy, or its bytes if damaged."""
    keep = home.root / "backups"
    keep.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = keep / f"before-restore-{stamp}.sqlite3"
    old = sqlite3.connect(home.database)
    new = sqlite3.connect(target)
    try:
        old.backup(new)
        return
    except sqlite3.DatabaseError as exc:
        # Past reading (the restore is how the admin gets out of it): keep the file and its
        # WAL as they are, for whoever tries to salvage them.
        log.warning("the database being replaced cannot be copied (%s); keeping its bytes", exc)
    finally:
        new.close()
        old.close()
    target.unlink(missing_ok=True)
    folder = keep / f"before-restore-{stamp}"
    folder.mkdir(exist_ok=True)
    for suffix in ("", "-wal"):
        current = Path(f"{home.database}{suffix}")
        if current.exists():
            shutil.copy2(current, folder / current.name)


def swap_in(home: DataHome, staging: Path, manifest: dict[str, Any]) -> None:
    """Put the staged backup in place of the site's files; keep the old database first.

    New events of the restored database are numbered past every number the old one used
    (``event_numbers``), so none takes a number central acknowledged for another event.
    """
    previous = event_numbers.high_water(home.database, home.tmp)
    if home.database.exists():
        _keep_old_database(home)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{home.database}{suffix}").unlink()
    event_numbers.restart_numbering(home, staging / DATABASE, previous)
    os.replace(staging / DATABASE, home.database)
    for sub, target in (
        ("content", home.content),
        ("submissions", home.submissions),
        ("secrets", home.secrets),
    ):
        for path in _files(staging / sub):
            dest = target / path.relative_to(staging / sub)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
