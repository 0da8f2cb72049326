"""A restore reads the replaced database's event numbers even when SQLite will not open it as
it is, and never numbers new events from 0 when the file is past reading (issue 19 follow-up).

A power cut can leave the site database with its ``-wal`` but without its ``-shm``; SQLite
then opens it read-only only when it may create the ``-shm`` beside it. The restore must still
learn the highest number the replaced database handed out (it lives in the WAL), without
writing next to the original. A file that is no database at all gives no number: the restore
then takes the highest number of the other copies kept on the site.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_server.base import event_numbers
from tests.sync_support import Site, add_events, make_site
from tests.test_sync_after_restore import back_up, kru

ROOT = Path(__file__).resolve().parents[1]

# A writer in WAL mode that copies every event once more (new ids, new numbers), then is
# killed before it closes: the new events live only in the -wal.
WRITER = textwrap.dedent(
    """
    import os, signal, sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    cols = [r[1] for r in con.execute("PRAGMA table_info(events)")]
    pick = ", ".join(
        "id || '-again'" if c == "id" else "NULL" if c == "seq" else c for c in cols
    )
    con.execute(f"INSERT INTO events ({', '.join(cols)}) SELECT {pick} FROM events")
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def last_seq(database: Path) -> int:
    con = sqlite3.connect(database)
    try:
        return int(con.execute("SELECT MAX(seq) FROM events").fetchone()[0])
    finally:
        con.close()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder an unprivileged child can enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="kru-wal-"))
    folder.chmod(0o755)
    yield folder
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)


def power_cut(site: Site, events: int) -> int:
    """Record ``events``, then a killed writer doubles the log in the WAL; drop the -shm.

    Returns the highest event number then (the events are numbered 1..n before).
    """
    add_events(site, events)
    database = site.home.database
    held = last_seq(database)
    killed = subprocess.run([sys.executable, "-c", WRITER, str(database)], check=False)
    assert killed.returncode == -signal.SIGKILL
    assert Path(f"{database}-wal").stat().st_size > 0
    Path(f"{database}-shm").unlink()  # the power cut: the -shm is gone, the -wal is not
    return 2 * held


def high_water_as_another_user(database: Path, scratch: Path) -> int | None:
    """Call ``high_water`` in a process that cannot create files beside ``database``."""
    code = (
        "import json, sys; from pathlib import Path; "
        "from edge_server.base import event_numbers; "
        "print(json.dumps(event_numbers.high_water(Path(sys.argv[1]), Path(sys.argv[2]))))"
    )
    python, extra = sys.executable, {}
    if os.geteuid() == 0:
        # root may create the -shm anywhere: read as nobody, with a Python nobody may run
        # (the venv's may live under /root); the module needs nothing but the stdlib.
        python, extra = "/usr/bin/python3", {"user": "nobody", "group": "nogroup"}
        if not os.access(python, os.X_OK):
            pytest.skip("running as root and no /usr/bin/python3 to run as nobody")
    out = subprocess.run(
        [python, "-c", code, str(database), str(scratch)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **extra,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_wal_left_without_its_shm_is_read_without_touching_the_original(shared_dir):
    site = make_site(shared_dir, "tec-power-cut")
    expected = power_cut(site, 30)
    database = site.home.database
    folder = database.parent
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    folder.chmod(0o555)  # the reader may read the files but create nothing beside them
    scratch = shared_dir / "scratch"
    scratch.mkdir(mode=0o777)
    scratch.chmod(0o777)
    before = {p.name: sha(p) for p in folder.iterdir() if p.is_file()}

    assert high_water_as_another_user(database, scratch) == expected

    assert {p.name: sha(p) for p in folder.iterdir() if p.is_file()} == before
    assert not Path(f"{database}-shm").exists()
    assert list(scratch.iterdir()) == []  # the private copy is gone too


def test_wal_left_without_its_shm_is_read_by_the_restoring_user(tmp_path):
    site = make_site(tmp_path, "tec-power-cut-own")
    expected = power_cut(site, 20)
    wal = Path(f"{site.home.database}-wal")
    before = (sha(site.home.database), sha(wal))
    assert event_numbers.high_water(site.home.database, site.home.tmp) == expected
    assert (sha(site.home.database), sha(wal)) == before
    # Nothing made beside it: a -shm of the restoring user (root) would lock the site out.
    assert not Path(f"{site.home.database}-shm").exists()


def test_file_that_is_no_database_has_no_known_mark(tmp_path):
    site = make_site(tmp_path, "tec-garbage")
    add_events(site, 5)
    site.home.database.write_bytes(os.urandom(64 * 1024))
    assert event_numbers.high_water(site.home.database, site.home.tmp) is None


def test_missing_database_has_mark_zero(tmp_path):
    site = make_site(tmp_path, "tec-none")
    assert event_numbers.high_water(site.home.database, site.home.tmp) == 0


def test_restore_after_a_power_cut_numbers_past_the_events_in_the_wal(tmp_path):
    """``kru restore`` over a database whose newest events are only in its -wal."""
    site = make_site(tmp_path, "tec-restore-wal")
    add_events(site, 10)
    made = back_up(site, tmp_path / "usb")
    expected = power_cut(site, 15)  # 25 events, doubled in the WAL: up to #50
    kru(site, "restore", "--force", str(made))
    add_events(site, 1)
    assert last_seq(site.home.database) == expected + 1


@pytest.mark.parametrize("with_snapshot", [True, False])
def test_restore_over_a_database_past_reading_uses_the_copies_kept_on_the_site(
    tmp_path, with_snapshot
):
    site = make_site(tmp_path, f"tec-garbage-{with_snapshot}")
    add_events(site, 30)
    made = back_up(site, tmp_path / "usb")
    add_events(site, 40)
    if with_snapshot:
        kru(site, "snapshot", "take")  # holds #70
    add_events(site, 10)  # #80: lost with the file
    site.home.database.write_bytes(os.urandom(64 * 1024))
    for suffix in ("-wal", "-shm"):
        Path(f"{site.home.database}{suffix}").unlink(missing_ok=True)

    out = kru(site, "restore", "--force", str(made))

    assert "cannot be read" in out.stderr
    add_events(site, 1)
    assert last_seq(site.home.database) == (70 if with_snapshot else 30) + 1
    marker = json.loads((site.home.root / event_numbers.MARKER).read_text())
    assert marker["after"] == 30  # the first acknowledgement settles the rest
