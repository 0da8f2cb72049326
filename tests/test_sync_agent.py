"""The edge agent against a real central server: cursor, quarantine, budget, backoff, state."""

from __future__ import annotations

import threading

import pytest
from waitress.server import create_server

from sync.edge import agent as agent_mod
from sync.edge import state
from sync.edge.agent import Agent
from tests.livesite import free_port
from tests.sync_support import CentralServer, add_events, central_counts, make_site


def run_in_process(site, **kwargs):
    db = site.open()
    try:
        return Agent(site.settings, site.home, db, **kwargs).run()
    finally:
        db.close()


def read(site, fn):
    db = site.open()
    try:
        return fn(db)
    finally:
        db.close()


def test_cursor_moves_to_the_last_acknowledged_event(tmp_path, central):
    site = make_site(tmp_path, "s1", **{"sync.batch_size": 40, "sync.max_batch_size": 40})
    central.provision(site)
    add_events(site, 100)
    result = run_in_process(site)
    assert result.caught_up
    assert result.batches == 3
    assert read(site, lambda db: state.read_state(db).cursor) == 100


def _central_batch_sizes(central) -> list[int]:
    import sqlite3

    con = sqlite3.connect(central.data_dir / "central.sqlite3")
    try:
        return [r[0] for r in con.execute("SELECT events FROM sync_batches ORDER BY after_seq")]
    finally:
        con.close()


def test_batches_grow_on_a_fast_link_up_to_the_largest_size(tmp_path, central):
    site = make_site(tmp_path, "s1", **{"sync.batch_size": 10, "sync.max_batch_size": 40})
    central.provision(site)
    add_events(site, 200)
    result = run_in_process(site)
    assert result.caught_up
    assert _central_batch_sizes(central) == [10, 20, 40, 40, 40, 40, 10]


def test_batches_stay_at_the_configured_size_on_a_slow_link(tmp_path, central, monkeypatch):
    monkeypatch.setattr(agent_mod, "GROW_BELOW_TIMEOUT_SHARE", 0.0)  # every answer is "slow"
    site = make_site(tmp_path, "s1", **{"sync.batch_size": 10, "sync.max_batch_size": 40})
    central.provision(site)
    add_events(site, 30)
    run_in_process(site)
    assert _central_batch_sizes(central) == [10, 10, 10]


def test_malformed_batch_is_quarantined_and_skipped(tmp_path, central):
    site = make_site(tmp_path, "s2", **{"sync.batch_size": 5})
    central.provision(site)
    add_events(site, 5)
    db = site.open()
    db.execute_sql("UPDATE events SET id = ? WHERE seq = 3", ("x" * 150,))  # too long an id
    db.close()
    add_events(site, 5)
    result = run_in_process(site)
    assert result.caught_up
    assert result.quarantined == 1
    rows = read(site, state.quarantined)
    assert rows[0]["code"] == "malformed_batch"
    assert (site.home.quarantine / rows[0]["file"].split("/")[-1]).exists()
    assert central_counts(central.data_dir)["total"] == 5  # the good batch after it arrived


def test_daily_budget_stops_sending(tmp_path, central):
    site = make_site(tmp_path, "s3", **{"sync.daily_budget_mb": 0.004, "sync.batch_size": 50})
    central.provision(site)
    add_events(site, 400)
    result = run_in_process(site)
    assert result.code == agent_mod.BUDGET
    assert read(site, state.bytes_today) <= 0.004 * 1024 * 1024
    assert 0 < central_counts(central.data_dir)["total"] < 400


def test_not_registered_modem_skips_sending_and_says_why(tmp_path, central, monkeypatch):
    site = make_site(tmp_path, "s4")
    central.provision(site)
    add_events(site, 10)
    monkeypatch.setattr(
        agent_mod, "modem_status", lambda settings: {"registered": False, "signal": 0}
    )
    result = run_in_process(site)
    assert result.code == agent_mod.NO_MODEM_LINK
    assert read(site, lambda db: state.read_state(db).last_error_code) == "modem_not_registered"
    assert central_counts(central.data_dir)["total"] == 0


def _busy_server(retry_after: str):
    def app(environ, start_response):
        body = b'{"error": {"code": "server_busy", "message": "busy"}}'
        start_response(
            "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Retry-After", retry_after)],
        )
        return [body]

    server = create_server(app, host="127.0.0.1", port=free_port(), threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, thread


def test_retry_after_is_honoured_between_retries(tmp_path):
    server, thread = _busy_server("0.7")
    try:
        url = f"http://127.0.0.1:{server.effective_port}"
        site = make_site(tmp_path, "s5", **{"sync.central_url": url, "sync.max_retries": 3})
        add_events(site, 3)
        waits: list[float] = []
        result = run_in_process(site, wait=waits.append)
    finally:
        server.close()
        thread.join(timeout=5)
    assert result.code == agent_mod.GAVE_UP
    assert waits == [0.7, 0.7, 0.7]


def test_backoff_grows_exponentially_with_jitter_below_the_cap():
    import random

    rng = random.Random(1)
    caps = [min(60, 2 * 2 ** (n - 1)) for n in range(1, 9)]
    delays = [agent_mod.backoff_delay(n, 2, 60, rng) for n in range(1, 9)]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert max(delays[5:]) > max(delays[:2])


def test_a_thousand_aborted_attempts_do_not_grow_the_database(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    site = make_site(tmp_path, "s6", **{"sync.central_url": dead, "sync.max_retries": 0})
    add_events(site, 200)
    db = site.open()
    try:
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        pages_before = db.execute_sql("PRAGMA page_count").fetchone()[0]
        for _ in range(1000):
            result = Agent(site.settings, site.home, db).run()
            assert result.code == agent_mod.OFFLINE
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        pages_after = db.execute_sql("PRAGMA page_count").fetchone()[0]
        assert state.read_state(db).cursor == 0
    finally:
        db.close()
    assert pages_after == pages_before


def test_unconfigured_site_reports_not_configured(tmp_path):
    site = make_site(tmp_path, "s7")
    add_events(site, 1)
    assert run_in_process(site).code == agent_mod.NOT_CONFIGURED


def test_disabled_device_stops_the_run_with_the_servers_reason(tmp_path, central):
    site = make_site(tmp_path, "s8")
    device_id = central.provision(site)
    add_events(site, 3)
    central.cli("device", "disable", device_id)
    result = run_in_process(site)
    assert result.code == agent_mod.REJECTED
    assert result.details["server_code"] == "device_disabled"


def _cli(site, *args: str, url: str = ""):
    import subprocess

    from tests.sync_support import KRU

    return subprocess.run(
        [KRU, "--data-dir", str(site.home.root), "sync", *args],
        env=site.env(url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("link", ["not provisioned", "central unreachable", "caught up"])
def test_sync_run_reports_the_pending_count_sync_status_reports(tmp_path, link):
    import json
    import re

    site = make_site(tmp_path, "s9")
    url = ""
    server = None
    if link == "central unreachable":
        url = f"http://127.0.0.1:{free_port()}"
    elif link == "caught up":
        server = CentralServer(tmp_path / "central").start()
        server.provision(site)
    add_events(site, 25)
    try:
        run = _cli(site, "run", url=url)
    finally:
        if server is not None:
            server.stop()
    said = re.search(r"(\d+) pending", run.stdout + run.stderr)
    assert said is not None, run.stdout + run.stderr
    status = json.loads(_cli(site, "status", url=url).stdout)
    assert int(said.group(1)) == status["pending_events"]
    assert status["pending_events"] == (0 if link == "caught up" else 25)
