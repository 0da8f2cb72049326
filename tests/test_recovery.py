"""Recovery mode: a damaged database starts a notice and a restore page; salvage keeps events.

Real parts throughout: a site database filled through the real ingest, a snapshot, later
events, pages of the ``progress`` table overwritten with random bytes (as a power cut on an
SD card leaves them), a real ``kru serve`` subprocess, and the sqlite3 shell's ``.recover``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import requests

from edge_server import accounts
from edge_server.base import snapshots
from edge_server.base.datahome import DataHome
from edge_server.base.db import db
from edge_server.learning import events
from tests.conftest import PASSWORD
from tests.learning_catalog import LESSON, VIDEO, ev, make_catalog
from tests.livesite import KRU, free_port
from tests.test_integrity import damage_table

ENV = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", "KRU_AUTH_HASH_TIME_COST": "1"}


def _ingest(user, n: int) -> list[str]:
    batch = [ev("viewed", LESSON) for _ in range(n // 2)]
    batch += [ev("progressed", VIDEO, {"duration_s": 5}) for _ in range(n - n // 2)]
    events.ingest(user, events.validate_batch({"events": batch}))
    return [e["id"] for e in batch]


@pytest.fixture
def damaged_site(app, data_dir) -> dict:
    """A site with a snapshot, events after it, and its ``progress`` pages overwritten."""
    make_catalog(open_course=True)
    accounts.create_user("admin1", PASSWORD, role="admin")
    early = accounts.create_user("early", PASSWORD)
    before = _ingest(early, 40)
    home = DataHome(data_dir)
    snap = snapshots.take(home)
    late = accounts.create_user("late", PASSWORD)  # an account made after the snapshot
    after = _ingest(early, 30) + _ingest(late, 20)
    db.close()
    damage_table(home.database, "progress")
    return {"home": home, "snapshot": snap, "before": before, "after": after}


@contextmanager
def serving(home: DataHome, code_file: Path) -> Iterator[str]:
    """Run ``kru serve`` until it answers /healthz at all (503 included)."""
    port = free_port()
    log = home.root.parent / f"serve-{port}.log"
    env = {**ENV, "KRU_RECOVERY_CODE_FILE": str(code_file), "KRU_SNAPSHOTS_INTERVAL_S": "0"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*KRU, "--data-dir", str(home.root), "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_a_damaged_database_starts_recovery_and_a_restore_serves_again(damaged_site, tmp_path):
    home: DataHome = damaged_site["home"]
    code_file = tmp_path / "run" / "recovery-code"
    with serving(home, code_file) as url:
        health = requests.get(f"{url}/healthz", timeout=10)
        assert health.status_code == 503
        assert health.json()["recovery_mode"] is True
        assert health.json()["database"] == "damaged"

        page = requests.get(f"{url}/learn", timeout=10)
        assert page.status_code == 503
        assert "Kru is being repaired" in page.text
        assert "ជួសជុល" in page.text  # the Khmer notice beside it

        api = requests.get(f"{url}/api/v1/session", timeout=10)
        assert api.status_code == 503
        assert api.json()["error"]["code"] == "recovery_mode"

        code = code_file.read_text().strip()
        assert code_file.stat().st_mode & 0o777 == 0o600
        doctor = subprocess.run(
            [*KRU, "--data-dir", str(home.root), "doctor"],
            capture_output=True, text=True, timeout=120,
            env={**ENV, "KRU_RECOVERY_CODE_FILE": str(code_file)},
        )  # fmt: skip
        assert doctor.returncode == 1
        assert code in doctor.stdout
        assert "/recovery" in doctor.stdout

        admin = requests.Session()
        form = admin.get(f"{url}/recovery", timeout=10)
        wrong = admin.post(
            f"{url}/recovery", data={"csrf_token": _csrf(form.text), "code": "AAAA"}, timeout=10
        )
        assert wrong.status_code == 403
        assert requests.post(f"{url}/recovery/restore", timeout=10).status_code == 400  # no CSRF
        signed = admin.post(
            f"{url}/recovery",
            data={"csrf_token": _csrf(wrong.text), "code": code.lower()},
            timeout=10,
        )
        assert signed.status_code == 503  # the choose page (the site is still down)
        snap = damaged_site["snapshot"]
        assert re.search(rf'value="{snap.name}" checked', signed.text)
        salvage_cell = re.search(r'class="salvaged">(\d+)<', signed.text)
        assert salvage_cell and int(salvage_cell.group(1)) == len(damaged_site["after"])

        done = admin.post(
            f"{url}/recovery/restore",
            data={"csrf_token": _csrf(signed.text), "snapshot": snap.name},
            timeout=120,
        )
        assert done.status_code == 200, done.text
        assert re.search(r'id="salvaged">(\d+)<', done.text).group(1) == str(
            len(damaged_site["after"])
        )

        health = requests.get(f"{url}/healthz", timeout=10)
        assert (health.status_code, health.json()["database"]) == (200, "ok")
        learner = requests.Session()
        token = learner.get(f"{url}/api/v1/session", timeout=10).json()["csrf_token"]
        signin = learner.post(
            f"{url}/api/v1/session",
            json={"username": "late", "password": PASSWORD},
            headers={"X-CSRFToken": token},
            timeout=30,
        )
        assert signin.status_code == 200, signin.text
        assert not code_file.exists()

    with closing(sqlite3.connect(home.database)) as con:
        ids = {r[0] for r in con.execute("SELECT id FROM events")}
        assert con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        summaries = con.execute("SELECT count(*) FROM progress").fetchone()[0]
    assert set(damaged_site["before"]) | set(damaged_site["after"]) <= ids
    assert summaries >= 3  # rebuilt from the log: early's two items, late's two
    kept = list((home.root / "backups").glob("before-restore-*/kru.sqlite3"))
    assert len(kept) == 1  # the damaged file, kept byte for byte


def test_recovery_without_snapshots_says_what_to_do(app, data_dir, tmp_path):
    accounts.create_user("someone", PASSWORD)
    db.close()
    home = DataHome(data_dir)
    damage_table(home.database, "users")
    code_file = tmp_path / "code"
    with serving(home, code_file) as url:
        admin = requests.Session()
        form = admin.get(f"{url}/recovery", timeout=10)
        page = admin.post(
            f"{url}/recovery",
            data={"csrf_token": _csrf(form.text), "code": code_file.read_text().strip()},
            timeout=60,
        )
        assert "There is no snapshot on this Pi" in page.text
        missing = admin.post(
            f"{url}/recovery/restore",
            data={"csrf_token": _csrf(form.text), "snapshot": "kru-nope"},
            timeout=10,
        )
        assert missing.status_code == 404
        assert "no snapshot kru-nope" in missing.text
