"""Helpers of the sync and central tests: sites, events, real central servers, a lossy proxy."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.server import KruServer
from edge_server.base import passwords
from edge_server.base.datahome import DataHome
from edge_server.base.settings import Settings, load_settings
from edge_server.site import database as schema

ROOT = Path(__file__).resolve().parent.parent
KRU = str(Path(sys.executable).with_name("kru"))
FAST = {"auth.hash_memory_kib": 1024, "auth.hash_time_cost": 1}
SITE_DEFAULTS = {
    **FAST,
    "modem.port": "none",
    "sync.backoff_base_s": 0.05,
    "sync.max_backoff_s": 1,
    "sync.max_retries": 4,
    "sync.connect_timeout_s": 2,
    "sync.timeout_s": 10,
}


def clean_env(**extra: str) -> dict[str, str]:
    """Return os.environ without KRU_* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRU_")}
    env.update(KRU_AUTH_HASH_MEMORY_KIB="1024", KRU_AUTH_HASH_TIME_COST="1", KRU_MODEM_PORT="none")
    env.update(extra)
    return env


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")


@dataclass
class Site:
    settings: Settings
    home: DataHome

    def open(self):  # the shared edge db handle, on this site's database
        passwords.configure(1024, 1, 2)
        self.home.ensure()
        schema.upgrade(self.home)
        return schema.open_database(self.home)

    def env(self, central_url: str = "") -> dict[str, str]:
        extra = {f"KRU_{k.upper().replace('.', '_')}": str(v) for k, v in SITE_DEFAULTS.items()}
        if central_url:
            extra["KRU_SYNC_CENTRAL_URL"] = central_url
        return clean_env(**extra)


def make_site(root: Path, name: str = "site", **overrides: Any) -> Site:
    settings = load_settings(
        environ={},
        overrides={"data_dir": str(root / name), "site_name": name, **SITE_DEFAULTS, **overrides},
    )
    return Site(settings, DataHome(settings.data_dir).ensure())


def add_events(
    site: Site,
    count: int,
    *,
    learners: int = 3,
    items: int = 4,
    course: str = "pack1/course1",
    cohort: str = "Cohort A",
    verb_cycle: tuple[str, ...] = ("viewed", "completed"),
    start: float | None = None,
) -> list[str]:
    """Insert ``count`` events of a cohort's learners on a course's items; return their ids."""
    from edge_server import accounts
    from edge_server.accounts.models import Cohort, User
    from edge_server.learning.models import Event

    db = site.open()
    try:
        with db.atomic():
            users = []
            for i in range(learners):
                name = f"learner{i + 1}"
                user = User.get_or_none(User.username == name) or accounts.create_user(
                    name, "lotus-pond-7", display_name=f"សិស្ស {i + 1}"
                )
                users.append(user)
            group = Cohort.get_or_none(Cohort.name == cohort) or accounts.create_cohort(cohort)
            for user in users:
                accounts.add_to_cohort(group, user)
            _catalog(db, course, items)
            moment = start if start is not None else time.time()
            rows, ids = [], []
            for n in range(count):
                event_id = str(uuid.uuid4())
                ids.append(event_id)
                ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(moment + n))
                rows.append(
                    {
                        "id": event_id,
                        "user": users[n % learners].id,
                        "verb": verb_cycle[(n // learners) % len(verb_cycle)],
                        "object": f"{course.split('/')[0]}/item{(n // learners) % items + 1}",
                        "result": json.dumps({"score": {"scaled": 0.8}, "completion": True}),
                        "context": json.dumps({"cohort": cohort}),
                        "client_ts": ts,
                        "server_ts": ts,
                        "boot_id": "boot-1",
                    }
                )
            for start_at in range(0, len(rows), 500):
                Event.insert_many(rows[start_at : start_at + 500]).execute()
        return ids
    finally:
        db.close()


def _catalog(db, course: str, items: int) -> None:
    """Make a pack with one course of ``items`` items in the site catalog (raw SQL)."""
    pack = course.split("/")[0]
    if db.execute_sql("SELECT 1 FROM courses WHERE key = ?", (course,)).fetchone():
        return
    cur = db.execute_sql(
        "INSERT INTO packs (pack_id, version, title_km, title_en, manifest_sha256, manifest, "
        "installed_at) VALUES (?, '1.0.0', ?, ?, 'x', '{}', '2026-01-01')",
        (pack, "កញ្ចប់", "Pack"),
    )
    pack_pk = cur.lastrowid
    cur = db.execute_sql(
        "INSERT INTO courses (key, pack_id, slug, title_km, title_en) VALUES (?, ?, 'c', ?, ?)",
        (course, pack_pk, "វគ្គសិក្សា ១", "Course one"),
    )
    course_pk = cur.lastrowid
    cur = db.execute_sql(
        "INSERT INTO modules (key, course_id, slug, title_km, title_en) VALUES (?, ?, 'm', ?, ?)",
        (course + "/m1", course_pk, "ម៉ូឌុល", "Module"),
    )
    module_pk = cur.lastrowid
    for i in range(items):
        db.execute_sql(
            "INSERT INTO items (key, module_id, course_id, slug, type, title_km, title_en) "
            "VALUES (?, ?, ?, ?, 'lesson', ?, ?)",
            (
                f"{pack}/item{i + 1}",
                module_pk,
                course_pk,
                f"item{i + 1}",
                f"មេរៀន {i + 1}",
                f"Lesson {i + 1}",
            ),
        )


class CentralServer(KruServer):
    """``kru central serve`` as a real subprocess on a free port (kept across restarts)."""

    def __init__(self, data_dir: Path, database_url: str = "", port: int | None = None) -> None:
        super().__init__(data_dir, command=("central", "serve"), ready="/api/v1/session", port=port)
        self.env = clean_env(KRU_THREADS="8")
        if database_url:
            self.env["KRU_CENTRAL_DATABASE_URL"] = database_url

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [KRU, "--data-dir", str(self.data_dir), "central", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def start(self, timeout: float = 60.0) -> CentralServer:
        super().start(timeout)
        return self

    def kill(self) -> None:
        """Kill -9, as a power cut would."""
        super().kill()
        self.proc = None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        code = super().stop(sig, timeout)
        self.proc = None
        return code

    def provision(self, site: Site, name: str | None = None, province: str = "Kandal") -> str:
        """Register ``site`` and import its provisioning file; return the device id."""
        path = site.home.root.parent / f"{site.home.root.name}-provisioning.toml"
        self.cli(
            "device",
            "add",
            "--name",
            name or site.settings["site_name"],
            "--province",
            province,
            "--url",
            self.url,
            "-o",
            str(path),
        )
        out = subprocess.run(
            [KRU, "--data-dir", str(site.home.root), "sync", "provision", str(path)],
            env=site.env(),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return out.stdout.split("device ")[1].split()[0]


def central_counts(data_dir: Path) -> dict[str, Any]:
    """Return (events, distinct events) per device from a central SQLite database."""
    import sqlite3

    con = sqlite3.connect(data_dir / "central.sqlite3")
    try:
        total = con.execute("SELECT COUNT(*) FROM central_events").fetchone()[0]
        distinct = con.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT device_id, event_id FROM central_events)"
        ).fetchone()[0]
        ids = {row[0] for row in con.execute("SELECT event_id FROM central_events")}
    finally:
        con.close()
    return {"total": total, "distinct": distinct, "ids": ids}


def run_agent(site: Site, central_url: str, *args: str, timeout: float = 120):
    return subprocess.run(
        [KRU, "--data-dir", str(site.home.root), "sync", "run", *args],
        env=site.env(central_url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_agent(
    site: Site, central_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    return subprocess.Popen(
        [KRU, "--data-dir", str(site.home.root), "sync", "run", *args],
        env={**site.env(central_url), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class LossyProxy:
    """A threaded TCP proxy that delays, drops connections and cuts them mid-stream."""

    def __init__(
        self,
        target_port: int,
        *,
        drop: float = 0.2,
        cut: float = 0.2,
        delay: float = 0.02,
        seed: int = 7,
    ) -> None:
        self.target_port = target_port
        self.drop, self.cut, self.delay = drop, cut, delay
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(50)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stats = {"connections": 0, "dropped": 0, "cut": 0}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _chance(self, p: float) -> bool:
        with self.lock:
            return self.rng.random() < p

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.stats["connections"] += 1
            if self._chance(self.drop):
                self.stats["dropped"] += 1
                client.close()
                continue
            t = threading.Thread(target=self._pipe, args=(client,), daemon=True)
            t.start()
            self._threads.append(t)

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        except OSError:
            client.close()
            return
        cut_after = None
        if self._chance(self.cut):
            self.stats["cut"] += 1
            cut_after = self.rng.randint(50, 4000)
        done = threading.Event()

        def copy(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
            sent = 0
            try:
                src.settimeout(15)
                while not done.is_set():
                    data = src.recv(4096)
                    if not data:
                        break
                    time.sleep(self.delay)
                    if limit is not None and sent + len(data) > limit:
                        dst.sendall(data[: max(0, limit - sent)])
                        break
                    dst.sendall(data)
                    sent += len(data)
            except OSError:
                pass
            finally:
                done.set()
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        up = threading.Thread(target=copy, args=(client, upstream, cut_after), daemon=True)
        down = threading.Thread(target=copy, args=(upstream, client, None), daemon=True)
        up.start()
        down.start()
        up.join()
        down.join()
        client.close()
        upstream.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._accept.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)


@contextmanager
def pg_database(base_url: str) -> Iterator[str]:
    """Create a fresh PostgreSQL database next to ``base_url``; yield its URL, then drop it."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    # One name per xdist worker and test: kru_test_gw0_1a2b3c4d5e6f (kru_test_main_... alone).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"kru_test_{worker}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(base_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        try:
            yield urlunsplit(urlsplit(base_url)._replace(path="/" + name))
        finally:
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.close()


def pg_base_url() -> str | None:
    """Return KRU_TEST_DATABASE_URL, or None outside CI (where it must be set)."""
    base = os.environ.get("KRU_TEST_DATABASE_URL")
    if not base and os.environ.get("CI"):
        raise AssertionError("KRU_TEST_DATABASE_URL is not set in CI")
    return base


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def central_rows(server: CentralServer, url: str, sql: str) -> list[tuple]:
    """Run ``sql`` on the central database, PostgreSQL at ``url`` or SQLite; return the rows."""
    if url:
        import psycopg2

        con = psycopg2.connect(url)
        try:
            with con.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            con.close()
    import sqlite3

    con = sqlite3.connect(server.data_dir / "central.sqlite3")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
