"""Sync: a term of events from a site to a central server; central ingest on PostgreSQL.

Both ends are the real programs: ``kru central serve`` on a free loopback port, devices
registered with ``kru central device add``, sites provisioned with ``kru sync provision``
and pushed with ``kru sync run``, exactly as a device admin and a Pi do it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from ..core import Bench, NotAvailable, Scenario, Target
from ..server import KRU, KruServer

SITES_AT_ONCE = 4
# Each of the 4 sites pushes this many events (100,000 in all); the figure is a rate.
EVENTS_PER_SITE = 25_000
PG_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/kru_bench"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRU_")}
    env.update(KRU_MODEM_PORT="none", KRU_SYNC_DAILY_BUDGET_MB="10000", KRU_LOG_LEVEL="WARNING")
    env.update(extra)
    return env


def _kru(data_dir: Path, *args: str, env: dict[str, str], timeout: float = 120) -> str:
    out = subprocess.run(
        [*KRU, "--data-dir", str(data_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"kru {' '.join(args[:3])} failed: {out.stderr.strip()[-500:]}")
    return out.stdout


class Central(KruServer):
    """``kru central serve`` on its own data directory (SQLite, or PostgreSQL by URL)."""

    def __init__(self, data_dir: Path, database_url: str = "") -> None:
        extra = {"KRU_THREADS": "8"}
        if database_url:
            extra["KRU_CENTRAL_DATABASE_URL"] = database_url
        super().__init__(data_dir, command=("central", "serve"), ready="/api/v1/session")
        self.env = _env(**extra)

    def __exit__(self, *exc: object) -> None:
        self.stop()  # SIGTERM: its PostgreSQL connections close before the database is dropped

    def provision(self, site_dir: Path, name: str) -> None:
        path = site_dir.parent / f"{name}-provisioning.toml"
        _kru(self.data_dir, "central", "device", "add", "--name", name, "--province", "Kandal",
             "--url", self.url, "-o", str(path), env=self.env)  # fmt: skip
        _kru(site_dir, "sync", "provision", str(path), env=_env())


def _pending(site_dir: Path) -> dict[str, Any]:
    return json.loads(_kru(site_dir, "sync", "status", env=_env()))


def _copy_site(src: Path, dest: Path, keep_events: int | None = None) -> Path:
    """Copy a site's database with SQLite's online backup (the server may be running).

    ``keep_events`` keeps only the oldest events of the copy.
    """
    dest.mkdir(parents=True)
    source = sqlite3.connect(src / "kru.sqlite3")
    target = sqlite3.connect(dest / "kru.sqlite3")
    try:
        source.backup(target)
        if keep_events is not None:
            with target:
                target.execute(
                    "DELETE FROM events WHERE seq > (SELECT seq FROM events ORDER BY seq "
                    "LIMIT 1 OFFSET ?)",
                    (keep_events - 1,),
                )
    finally:
        target.close()
        source.close()
    return dest


def _check_available() -> None:
    try:
        import sync.central.ingest
        import sync.edge.agent  # noqa: F401
    except ImportError as exc:
        raise NotAvailable(f"the sync agent or central server is missing ({exc})") from exc


def sync_sqlite(bench: Bench) -> dict[str, Any]:
    _check_available()
    site_dir = _copy_site(bench.site.data_dir, bench.workdir / "sync-site")
    with Central(bench.workdir / "central-sqlite") as central:
        central.provision(site_dir, "TEC bench")
        pending = _pending(site_dir)["pending_events"]
        began = time.monotonic()
        _kru(site_dir, "sync", "run", env=_env(), timeout=600)
        took = time.monotonic() - began
        status = _pending(site_dir)
    sent = status.get("bytes_today") or 0
    return {
        "events": pending,
        "total_s": round(took, 2),
        "events_per_s": round(pending / took, 1) if took else None,
        "bytes_sent": sent,
        "bytes_per_event": round(sent / pending, 1) if pending else None,
        "left_pending": status["pending_events"],
    }


def _postgres_url() -> str:
    """Return the URL of a fresh benchmark database (dropped and made again).

    Raises:
        NotAvailable: PostgreSQL or its driver is not there.
    """
    url = os.environ.get("KRU_BENCH_DATABASE_URL", PG_URL_DEFAULT)
    try:
        import psycopg2
    except ImportError as exc:
        raise NotAvailable("psycopg2 is not installed (pip install -e .[postgres])") from exc
    name = url.rsplit("/", 1)[1]
    try:
        con = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        raise NotAvailable(f"PostgreSQL is not reachable at {url}") from exc
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        con.close()
    return url


def central_postgres(bench: Bench) -> dict[str, Any]:
    _check_available()
    url = _postgres_url()
    sites = [
        _copy_site(bench.site.data_dir, bench.workdir / f"pg-site-{n}", EVENTS_PER_SITE)
        for n in range(1, SITES_AT_ONCE + 1)
    ]
    with Central(bench.workdir / "central-pg", database_url=url) as central:
        for n, site_dir in enumerate(sites, 1):
            central.provision(site_dir, f"TEC bench {n}")
        pending = sum(_pending(s)["pending_events"] for s in sites)
        began = time.monotonic()
        agents = [
            subprocess.Popen(
                [*KRU, "--data-dir", str(s), "sync", "run"],
                env=_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for s in sites
        ]
        codes = []
        for agent in agents:
            _out, err = agent.communicate(timeout=900)
            codes.append((agent.returncode, err.decode(errors="replace")[-300:]))
        took = time.monotonic() - began
        left = sum(_pending(s)["pending_events"] for s in sites)
    failed = [err for code, err in codes if code != 0]
    if failed:
        raise RuntimeError(f"an agent failed: {failed[0]}")
    return {
        "sites": SITES_AT_ONCE,
        "events": pending,
        "total_s": round(took, 2),
        "events_per_s": round((pending - left) / took, 1) if took else None,
        "left_pending": left,
    }


SYNC_SQLITE = Scenario(
    "sync_sqlite",
    "Sync a term of events to a central server on SQLite, over loopback",
    sync_sqlite,
    (
        Target("Sync of a term of events (s)", "total_s", "<=", 20, "s"),
        Target("Sync bytes on the wire per event", "bytes_per_event", "<=", 40, "B"),
    ),
)

CENTRAL_POSTGRES = Scenario(
    "central_postgres",
    "Central ingest on PostgreSQL, 4 sites pushing at once",
    central_postgres,
    (Target("Central ingest, 4 sites (events/s)", "events_per_s", ">=", 20000, "events/s"),),
)
