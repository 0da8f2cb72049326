"""Event numbers across a restore: new events never take numbers central acknowledged before.

An event's ``seq`` is its place in the site's sync stream: central acknowledges "everything
up to N" and the site skips what central holds. A restored backup or snapshot numbers new
events from where the copy stopped (M), while central may have acknowledged up to N > M for
other events: the new events M+1..N would be skipped, never sent (field report, issue 19).

Two guards, both taken by every restore (``kru restore``, the Site page's USB restore,
``kru snapshot restore``, recovery mode):

* at the restore, the restored database numbers new events past the highest number the
  replaced database ever handed out or heard acknowledged (``restart_numbering``); that
  covers a restore on the same SD card, whatever central received of the old database. A
  file SQLite will not open read-only (a ``-wal`` left without its ``-shm``) is read from a
  private copy; a file past reading gives way to the snapshots and earlier restores' copies
  kept on the site (``fallback_mark``), never to 0;
* the restore leaves a marker, ``sync-restored.json`` in the data home, holding the highest
  number the restored copy held. The next acknowledgement the site hears from central
  (``sync.edge.state.settle_restore``) moves the events numbered after the restore past
  central's acknowledgement before the cursor follows it; that covers a restore onto a new
  card, where the old database is gone.

Plain ``sqlite3`` on the file: it runs while nothing else has the database open. No Flask.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from .datahome import DataHome, write_file_atomically

log = logging.getLogger(__name__)

MARKER = "sync-restored.json"
_HIGH_WATER_QUERIES = (
    "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
    "SELECT MAX(seq) FROM events",
    "SELECT MAX(cursor, server_acked) FROM sync_state",
)


def high_water(database: Path, scratch: Path) -> int | None:
    """Return the highest event number ``database`` handed out or heard acknowledged.

    Each source is read on its own, so a damaged file (recovery mode) tells what it still
    can. 0 when there is no file; None when it cannot be read at all (not a database).
    The file is opened read-only; when it has a ``-wal`` but no ``-shm`` (a power cut), or
    SQLite refuses to open it so, the file and its ``-wal`` are copied into ``scratch`` and
    the copy is opened read-write, so SQLite replays the WAL into the copy. Nothing is
    written or created beside the original.
    """
    if not database.is_file():
        return 0
    if Path(f"{database}-wal").exists() and not Path(f"{database}-shm").exists():
        # SQLite would create the -shm beside the original (owned by whoever restores), or
        # refuse when it may not: read a copy instead.
        return _read_recovered_copy(database, scratch)
    found = _read_marks(f"file:{database}?mode=ro")
    if found is None:
        found = _read_recovered_copy(database, scratch)
    return found


def _read_marks(uri: str) -> int | None:
    """Return the highest mark of the database at ``uri``, None when it will not open."""
    try:
        con = sqlite3.connect(uri, uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        try:
            con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            log.info("cannot read %s as it is: %s", uri, exc)
            return None
        found = 0
        for sql in _HIGH_WATER_QUERIES:
            try:
                row = con.execute(sql).fetchone()
            except sqlite3.Error:
                continue
            if row and row[0] is not None:
                found = max(found, int(row[0]))
        return found
    finally:
        con.close()


def _read_recovered_copy(database: Path, scratch: Path) -> int | None:
    """Return the marks of a private copy of ``database`` and its WAL, recovered by SQLite."""
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="high-water-", dir=scratch) as folder:
        copy = Path(folder) / database.name
        try:
            shutil.copyfile(database, copy)
            wal = Path(f"{database}-wal")
            if wal.is_file():
                shutil.copyfile(wal, Path(f"{copy}-wal"))
        except OSError as exc:
            log.warning("cannot copy %s to read its event numbers: %s", database, exc)
            return None
        return _read_marks(f"file:{copy}?mode=rw")


def fallback_mark(home: DataHome, scratch: Path) -> int:
    """Return the highest event number of every other copy of this site's database kept here.

    For a restore whose replaced database cannot be read: the snapshots and the databases
    earlier restores kept aside hold numbers the site handed out (central may hold them).
    The newest snapshot is at most one snapshot interval behind the replaced database; the
    first acknowledgement from central covers the rest (``sync.edge.state.settle_restore``).
    """
    found = 0
    backups = home.root / "backups"
    candidates = [*sorted((home.root / "snapshots").glob("kru-*.sqlite3"))]
    candidates += sorted(backups.glob("before-restore-*.sqlite3"))
    candidates += sorted(backups.glob("before-restore-*/*.sqlite3"))
    for path in candidates:
        found = max(found, high_water(path, scratch) or 0)
    return found


def restart_numbering(home: DataHome, restored_copy: Path, previous: int | None) -> int:
    """Number new events of ``restored_copy`` past ``previous``, and mark the restore.

    Called on the copy before it replaces the site database, so a power cut in between
    leaves either the old database or the prepared copy (a marker left with the old one
    only makes it send some events twice, which central ignores). ``previous`` is
    ``high_water`` of the database the restore replaces (0 when there is none, None when it
    cannot be read: then the highest mark of the other copies kept on the site, see
    ``fallback_mark``, never 0 unless there is none). Returns the highest number the copy
    held. A restore over a restore that did not sync yet keeps the
    earlier, lower mark: events between the two were numbered without knowing central's
    acknowledgement either.
    """
    if previous is None:
        previous = fallback_mark(home, home.tmp)
        log.warning(
            "the database this restore replaces cannot be read; numbering new events past "
            "#%s, the highest number of the snapshots and earlier restores kept on the site "
            "(and of the restored copy), until central's next acknowledgement",
            previous,
        )
    con = sqlite3.connect(restored_copy, timeout=30)
    try:
        with con:
            restored = high_water_of(con)
            floor = max(previous, restored)
            con.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
            con.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (floor,))
    finally:
        con.close()
    earlier = pending_restore(home)
    after = restored if earlier is None else min(earlier, restored)
    record = {"after": after, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_file_atomically(home.root / MARKER, json.dumps(record), mode=0o640)
    log.warning(
        "restored database holds events up to #%s; new events are numbered from #%s",
        restored,
        floor + 1,
    )
    return restored


def high_water_of(con: sqlite3.Connection) -> int:
    """Return the highest event number of the open database: its counter or its last event."""
    row = con.execute(
        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), "
        "COALESCE((SELECT MAX(seq) FROM events), 0))"
    ).fetchone()
    return int(row[0])


def pending_restore(home: DataHome) -> int | None:
    """Return the restored copy's highest event number while no acknowledgement settled it."""
    try:
        data = json.loads((home.root / MARKER).read_text(encoding="utf-8"))
        return int(data["after"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("%s is unreadable; treating every event as numbered after a restore", MARKER)
        return 0


def settled(home: DataHome) -> None:
    """Forget the restore marker: central's acknowledgement was heard and applied."""
    with contextlib.suppress(FileNotFoundError):
        (home.root / MARKER).unlink()
