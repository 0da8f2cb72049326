"""Recovery mode's logic: the recovery code, salvage of a damaged file, choosing a snapshot.

When the integrity check at start finds the database damaged, ``kru serve`` serves a small
recovery app instead of the site (``recovery_app``). The admin signs in there with a
recovery code made at start. The code is kept in the server's memory and in
``recovery.code_file`` (default ``/run/kru/recovery-code``, mode 0600): ``/run`` is a
tmpfs, so the code never reaches the SD card and a stolen card does not give it away; it
dies with the process. ``kru doctor`` reads it from there; the console and the journal show
it at start.

Salvage: the sqlite3 shell's ``.recover`` reads every row SQLite can still read from a copy
of the damaged file into a new database. After a snapshot is restored, events from that
salvage that the snapshot lacks (by event id, so it is idempotent) are inserted again, with
the accounts they belong to, and progress summaries are rebuilt from the log. No Flask here.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import secrets
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from peewee import Database

from ..base.datahome import DataHome
from ..base.errors import N_, KruError
from ..base.integrity import Intact, quick_check
from ..base.snapshots import Snapshot, list_snapshots, max_event_seq, verify

log = logging.getLogger(__name__)

_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a screen
SALVAGE_TIMEOUT_S = 600


class SalvageFailed(KruError):
    code = "salvage_failed"
    status = 500


def new_code() -> str:
    """Return a fresh recovery code, ``XXXX-XXXX-XXXX``."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _normal(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_matches(given: str, code: str) -> bool:
    """Return whether ``given`` is ``code`` (dashes, spaces and case do not matter)."""
    return hmac.compare_digest(_normal(given).encode(), _normal(code).encode())


def publish_code(code: str, path: Path) -> bool:
    """Write ``code`` to ``path`` (0600, folder 0700) for ``kru doctor``; False if impossible."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, f"{code}\n".encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot keep the recovery code in %s: %s", path, exc.strerror or exc)
        return False
    return True


def read_code(path: Path) -> str | None:
    """Return the published recovery code, or None when no server is in recovery mode."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def forget_code(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def salvage(home: DataHome, damaged: Path) -> Path:
    """Copy every row SQLite can read from ``damaged`` into a new database; return its path.

    Works on a copy (with its WAL) so the damaged file stays as it was.

    Raises:
        SalvageFailed: the sqlite3 shell is missing or could not read the file at all.
    """
    shell = shutil.which("sqlite3")
    if shell is None:
        raise SalvageFailed(
            N_("The sqlite3 program is missing; install it (apt install sqlite3) to salvage"),
        )
    work = home.tmp / "salvage"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    copy = work / "damaged.sqlite3"
    shutil.copyfile(damaged, copy)
    wal = Path(f"{damaged}-wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{copy}-wal"))
    out = work / "salvaged.sqlite3"
    # ``.recover`` reads pages the schema no longer reaches; the sqlite3 shell of Debian 12
    # (3.40) stops it on some Kru files ("SQL logic error"), so ``.dump`` follows, which
    # skips the unreadable pages of each table and would roll everything back at the end:
    # its last ROLLBACK becomes a COMMIT so what was read is kept.
    problem = ""
    for command in (".recover", ".dump"):
        out.unlink(missing_ok=True)
        try:
            dump = subprocess.run(  # noqa: S603 - fixed program, our own file
                [shell, str(copy), command], capture_output=True, timeout=SALVAGE_TIMEOUT_S
            )
            sql = dump.stdout
            if sql.rstrip().endswith(b"ROLLBACK; -- due to errors"):
                sql = sql.rstrip()[: -len(b"ROLLBACK; -- due to errors")] + b"COMMIT;\n"
            subprocess.run(  # noqa: S603
                [shell, str(out)], input=sql, capture_output=True, timeout=SALVAGE_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            problem = str(exc)
            continue
        problem = dump.stderr.decode(errors="replace").strip()[:200]
        if salvaged_event_ids(out) or _has_events_table(out):
            break
    else:
        raise SalvageFailed(
            N_("SQLite could not read the damaged file: %(problem)s"),
            problem=problem or "no events table",
        )
    log.info("salvaged the readable rows of %s into %s", damaged, out)
    return out


def _tables(con: sqlite3.Connection, schema: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type='table'")  # noqa: S608
    }


def _has_events_table(path: Path) -> bool:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "events" in _tables(con, "main")
    except sqlite3.Error:
        return False
    finally:
        con.close()


def salvaged_event_ids(salvaged: Path | None) -> set[str]:
    if salvaged is None:
        return set()
    con = sqlite3.connect(f"file:{salvaged}?mode=ro", uri=True)
    try:
        if "events" not in _tables(con, "main"):
            return set()
        return {r[0] for r in con.execute("SELECT id FROM events")}
    finally:
        con.close()


@dataclass(frozen=True)
class Candidate:
    """A snapshot offered for restore, with what choosing it means."""

    snapshot: Snapshot
    good: bool
    events_in_it: int
    recorded_after: int  # events the damaged file numbered after the snapshot's last
    salvaged_after: int  # of those, readable from the damaged file and so kept


def candidates(home: DataHome, damaged_max_seq: int, salvaged: Path | None) -> list[Candidate]:
    """Return every kept snapshot, newest first, each checked and compared with the salvage."""
    ids = salvaged_event_ids(salvaged)
    found = []
    for snap in list_snapshots(home):
        good = verify(snap) and isinstance(quick_check(snap.path), Intact)
        seq = max_event_seq(snap.path) if good else 0
        after = 0
        if good and ids:
            con = sqlite3.connect(f"file:{snap.path}?mode=ro", uri=True)
            try:
                have = {r[0] for r in con.execute("SELECT id FROM events")}
            finally:
                con.close()
            after = len(ids - have)
        found.append(Candidate(snap, good, seq, max(damaged_max_seq - seq, after), after))
    return found


def preselected(found: list[Candidate]) -> Candidate | None:
    """Return the newest good snapshot."""
    return next((c for c in found if c.good), None)


def damaged_max_seq(damaged: Path) -> int:
    """Return the last event number the damaged file handed out, if it can still tell."""
    try:
        con = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0
    try:
        row = con.execute("SELECT seq FROM sqlite_sequence WHERE name='events'").fetchone()
        return int(row[0]) if row else 0
    except sqlite3.Error:
        return 0
    finally:
        con.close()


USER_COLUMNS_SKIPPED = {"id"}


def reingest(database: Database, salvaged: Path) -> int:
    """Insert the salvaged events the site database lacks, in one transaction; return how many.

    ``database`` is the site's peewee handle (its write transactions take the writer lock).
    Accounts made after the snapshot come back with their events (matched by ``uid``).
    """
    connection = database.connection()
    connection.execute("ATTACH DATABASE ? AS salvage", (f"file:{salvaged}?mode=ro",))
    try:
        with database.atomic():
            return _reingest(connection)
    finally:
        connection.execute("DETACH DATABASE salvage")


def _reingest(connection: sqlite3.Connection) -> int:
    tables = _tables(connection, "salvage")
    if "events" not in tables:
        return 0
    if "users" in tables:
        columns = [
            r[1]
            for r in connection.execute("PRAGMA main.table_info(users)")
            if r[1] not in USER_COLUMNS_SKIPPED
        ]
        names = ", ".join(columns)
        connection.execute(
            f"INSERT INTO main.users ({names}) SELECT {names} FROM salvage.users"  # noqa: S608
            " WHERE uid NOT IN (SELECT uid FROM main.users)"
            " AND username NOT IN (SELECT username FROM main.users)"
        )
        owner = (
            "coalesce((SELECT mu.id FROM main.users mu JOIN salvage.users su"
            " ON su.uid = mu.uid WHERE su.id = s.user_id),"
            " (SELECT id FROM main.users WHERE id = s.user_id))"
        )
    else:
        owner = "(SELECT id FROM main.users WHERE id = s.user_id)"
    before = connection.total_changes
    connection.execute(
        "INSERT INTO main.events (id, user_id, verb, object, result, context, client_ts,"  # noqa: S608
        f" server_ts, boot_id) SELECT * FROM (SELECT s.id, {owner} AS owner, s.verb,"
        " s.object, s.result, s.context, s.client_ts, s.server_ts, s.boot_id"
        " FROM salvage.events s WHERE s.id NOT IN (SELECT id FROM main.events)"
        " ORDER BY s.seq) WHERE owner IS NOT NULL"
    )
    return connection.total_changes - before
