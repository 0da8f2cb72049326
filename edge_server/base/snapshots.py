"""Automatic snapshots of the site database, kept in ``<data home>/snapshots/``.

A snapshot is ``kru-<UTC time>.sqlite3`` made with SQLite's online backup API in one step:
one read transaction copies every page, so the copy is a single point in time while the
server goes on writing (WAL lets writers continue past a reader). Beside it,
``kru-<time>.sqlite3.sha256`` holds its checksum in ``sha256sum`` format. A copy that fails
SQLite's ``quick_check`` is thrown away, so every kept snapshot was good when taken.
Content files are addressed by sha256 already and are not copied.

Only one process snapshots at a time: ``snapshots/.lock`` is held with an ``flock`` while a
snapshot is taken (the server's scheduler and ``kru snapshot take`` both take it).

Retention: the newest ``keep_hourly`` snapshots, and the newest snapshot of each of the last
``keep_daily`` days. No Flask here.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import event_numbers, pidlock
from .datahome import DataHome
from .errors import N_, Conflict, KruError, NotFound, StorageError
from .integrity import Intact, quick_check

log = logging.getLogger(__name__)

PREFIX = "kru-"
SUFFIX = ".sqlite3"
_NAME = re.compile(r"^kru-(\d{8}T\d{6}(?:\d{6})?Z)\.sqlite3$")
_CHUNK = 1024 * 1024


class SnapshotBusy(Conflict):
    code = "snapshot_busy"


class BadSnapshot(KruError):
    code = "bad_snapshot"
    status = 422


@dataclass(frozen=True)
class Snapshot:
    """One kept snapshot file."""

    path: Path
    taken_at: datetime

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def checksum_file(self) -> Path:
        return self.path.with_name(self.path.name + ".sha256")

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def directory(home: DataHome) -> Path:
    return home.root / "snapshots"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def list_snapshots(home: DataHome) -> list[Snapshot]:
    """Return the kept snapshots, newest first."""
    found = []
    folder = directory(home)
    if not folder.is_dir():
        return []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if not match:
            continue
        stamp = match.group(1)
        fmt = "%Y%m%dT%H%M%S%fZ" if len(stamp) > 16 else "%Y%m%dT%H%M%SZ"
        found.append(Snapshot(path, datetime.strptime(stamp, fmt).replace(tzinfo=UTC)))
    return sorted(found, key=lambda s: s.taken_at, reverse=True)


def find(home: DataHome, name: str) -> Snapshot:
    """Return the snapshot called ``name`` (``latest`` is the newest).

    Raises:
        NotFound: no such snapshot.
    """
    kept = list_snapshots(home)
    if name == "latest" and kept:
        return kept[0]
    for snap in kept:
        if name in (snap.name, snap.name.removesuffix(SUFFIX)):
            return snap
    raise NotFound(
        N_("There is no snapshot %(name)s; kru snapshot list shows them"),
        code="snapshot_not_found",
        name=name,
    )


@contextlib.contextmanager
def _exclusive(home: DataHome) -> Iterator[None]:
    """Hold ``snapshots/.lock``; raise ``SnapshotBusy`` if another process holds it."""
    folder = directory(home)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SnapshotBusy(
                N_("Another snapshot is being taken; try again in a minute"),
            ) from exc
        yield
    finally:
        os.close(fd)  # closing drops the lock


def marker(database: Path) -> tuple:
    """Return a cheap fingerprint of the database's content: every AUTOINCREMENT counter.

    Used across restarts, where ``PRAGMA data_version`` (per connection) cannot tell.
    """
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return tuple(sorted(con.execute("SELECT name, seq FROM sqlite_sequence").fetchall()))
    except sqlite3.Error:
        return ()
    finally:
        con.close()


def take(home: DataHome, now: datetime | None = None) -> Snapshot:
    """Take a snapshot of the site database now (safe while the server writes); return it.

    Raises:
        SnapshotBusy: another process is taking one.
        BadSnapshot: the copy failed SQLite's check (the database itself may be damaged).
        StorageError: the disk is full or not writable.
        KruError: there is no database.
    """
    if not home.database.is_file():
        raise KruError(
            N_("There is no site database in %(path)s to snapshot"),
            code="nothing_to_snapshot",
            path=str(home.root),
        )
    now = now or datetime.now(UTC)
    folder = directory(home)
    with _exclusive(home):
        final = folder / f"{PREFIX}{now.strftime('%Y%m%dT%H%M%S%fZ')}{SUFFIX}"
        work = folder / f".{final.name}.partial"
        try:
            _copy(home.database, work)
            checked = quick_check(work)
            if not isinstance(checked, Intact):
                raise BadSnapshot(
                    N_("The snapshot failed SQLite's check (%(problem)s); kru doctor says more"),
                    problem=checked.message,
                )
            digest = _sha256(work)
            sums = final.with_name(final.name + ".sha256")
            sums.write_text(f"{digest}  {final.name}\n", encoding="utf-8")
            os.replace(work, final)
            _fsync_dir(folder)
        except OSError as exc:
            raise StorageError(
                N_("Cannot write the snapshot to %(path)s: %(problem)s"),
                path=str(folder),
                problem=exc.strerror or str(exc),
            ) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                work.unlink()
    log.info("snapshot %s taken", final.name)
    return Snapshot(final, now)


def _copy(database: Path, dest: Path) -> None:
    src = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(dest)
    try:
        # pages=-1: the whole file in one step, inside one read transaction.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        dst.close()
        src.close()
    fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def verify(snap: Snapshot) -> bool:
    """Return whether the snapshot's file still matches its checksum file."""
    try:
        expected = snap.checksum_file.read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError):
        return False
    return _sha256(snap.path) == expected


def prune(home: DataHome, keep_hourly: int, keep_daily: int) -> list[Snapshot]:
    """Delete snapshots beyond the retention rules; return the deleted ones."""
    kept = list_snapshots(home)
    keep = {s.path for s in kept[:keep_hourly]}
    days: list[str] = []
    for snap in kept:  # newest first: the first seen of a day is that day's newest
        day = snap.taken_at.strftime("%Y-%m-%d")
        if day not in days:
            days.append(day)
            if len(days) <= keep_daily:
                keep.add(snap.path)
    gone = [s for s in kept if s.path not in keep]
    for snap in gone:
        for path in (snap.path, snap.checksum_file):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return gone


def max_event_seq(database: Path) -> int:
    """Return the highest event ``seq`` in a database file (0 when none or unreadable)."""
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return int(con.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        con.close()


def restore(home: DataHome, snap: Snapshot, *, server_may_run: bool = False) -> Path:
    """Put ``snap`` in place of the site database; return where the old file was kept.

    The current database (and its WAL) is copied to ``backups/before-restore-<time>/``
    first, byte for byte (it may be damaged). ``server_may_run`` is for the recovery-mode
    server itself, which holds no connection to the database.

    Raises:
        Conflict: the site server is running.
        BadSnapshot: the snapshot does not match its checksum.
    """
    if not server_may_run and pidlock.running_pid(home.pid_file) is not None:
        raise Conflict(
            N_("The site server is running; stop it first (systemctl stop kru kru-sync)"),
            code="site_running",
        )
    if not verify(snap):
        raise BadSnapshot(
            N_("Snapshot %(name)s does not match its checksum; choose another"), name=snap.name
        )
    previous = event_numbers.high_water(home.database, home.tmp)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    keep = home.root / "backups" / f"before-restore-{stamp}"
    keep.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal"):
        current = Path(f"{home.database}{suffix}")
        if current.exists():
            shutil.copy2(current, keep / current.name)
    home.ensure()
    staged = home.tmp / f"restore-{stamp}.sqlite3"
    shutil.copyfile(snap.path, staged)
    fd = os.open(staged, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    # New events go past every number the replaced file used (central may hold them).
    event_numbers.restart_numbering(home, staged, previous)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{home.database}{suffix}").unlink()
    os.replace(staged, home.database)
    _fsync_dir(home.root)
    log.warning("restored snapshot %s; the previous database is in %s", snap.name, keep)
    return keep


class Scheduler:
    """Take a snapshot every ``interval_s`` while the database changed; prune after each.

    Runs as a daemon thread of the server's supervising process (``kru serve``): the
    process that lives as long as the site, never forked into workers. A change is seen
    through ``PRAGMA data_version`` on the scheduler's own read connection (it changes when
    any other connection, in any process, commits), and at the first pass after a start
    through ``marker`` compared with the newest snapshot's.
    """

    def __init__(
        self, home: DataHome, interval_s: float, keep_hourly: int, keep_daily: int
    ) -> None:
        self.home = home
        self.interval_s = interval_s
        self.keep_hourly = keep_hourly
        self.keep_daily = keep_daily
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._con: sqlite3.Connection | None = None
        self._seen: int | None = None

    def changed(self) -> bool:
        """Return whether the database changed since the last snapshot this scheduler saw."""
        if self._con is None:
            self._con = sqlite3.connect(
                f"file:{self.home.database}?mode=ro", uri=True, check_same_thread=False
            )
        version = int(self._con.execute("PRAGMA data_version").fetchone()[0])
        if self._seen is None:
            kept = list_snapshots(self.home)
            self._seen = version
            return not kept or marker(kept[0].path) != marker(self.home.database)
        if version != self._seen:
            self._seen = version
            return True
        return False

    def run_once(self) -> Snapshot | None:
        """Take a snapshot if due and something changed; prune; return the new one."""
        kept = list_snapshots(self.home)
        if kept and (datetime.now(UTC) - kept[0].taken_at).total_seconds() < self.interval_s:
            return None
        if not self.changed():
            return None
        try:
            snap = take(self.home)
        except SnapshotBusy:
            return None
        prune(self.home, self.keep_hourly, self.keep_daily)
        return snap

    def _loop(self) -> None:
        while not self._stop.wait(min(self.interval_s, 60.0)):
            try:
                self.run_once()
            except KruError as exc:
                log.error("snapshot failed: %s", exc.message)
            except Exception:  # a snapshot failure must never stop the server
                log.exception("snapshot failed")

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="kru-snapshots", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._con is not None:
            self._con.close()
