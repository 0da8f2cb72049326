"""Crashes, power cuts and a bad link between real processes: each event arrives exactly once."""

from __future__ import annotations

import random
import time

import pytest

from tests.sync_support import (
    CentralServer,
    LossyProxy,
    add_events,
    central_counts,
    make_site,
    run_agent,
    start_agent,
    wait_until,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def central(tmp_path):
    server = CentralServer(tmp_path / "central").start()
    yield server
    server.stop()


def assert_exactly_once(central: CentralServer, ids: list[str]) -> None:
    counts = central_counts(central.data_dir)
    assert counts["total"] == len(ids)
    assert counts["distinct"] == len(ids)
    assert counts["ids"] == set(ids)


def finish(site, url: str = "") -> None:
    for _ in range(5):
        result = run_agent(site, url)
        if result.returncode == 0:
            return
    raise AssertionError(result.stderr)


SMALL_BATCHES = {"KRU_SYNC_MAX_BATCH_SIZE": "250"}


def test_agent_killed_mid_batch_resumes_without_duplicates(tmp_path, central):
    site = make_site(tmp_path, "kill-agent")
    central.provision(site)
    ids = add_events(site, 6000)
    rng = random.Random(3)
    for _ in range(3):
        before = central_counts(central.data_dir)["total"]
        # Batches stay small (they would grow on a fast link) so each kill lands mid-way.
        proc = start_agent(site, "", "--batch-size", "200", env=SMALL_BATCHES)
        try:
            wait_until(lambda b=before: central_counts(central.data_dir)["total"] > b, timeout=60)
            time.sleep(rng.uniform(0, 0.3))
        finally:
            proc.kill()  # SIGKILL: no cleanup, like a power cut
            proc.wait(timeout=10)
    finish(site)
    assert_exactly_once(central, ids)


def test_central_killed_mid_request_then_restarted_holds_each_event_once(tmp_path, central):
    site = make_site(tmp_path, "kill-central")
    central.provision(site)
    ids = add_events(site, 6000)
    proc = start_agent(site, "", "--batch-size", "300")
    wait_until(lambda: central_counts(central.data_dir)["total"] > 0, timeout=60)
    central.kill()
    proc.wait(timeout=120)  # the agent gives up on the dead link
    central.start()
    finish(site)
    assert_exactly_once(central, ids)


def test_repeated_power_cuts_of_either_side_converge(tmp_path, central):
    site = make_site(tmp_path, "power-cuts")
    central.provision(site)
    ids = add_events(site, 8000)
    rng = random.Random(11)
    for round_no in range(6):
        proc = start_agent(site, "", "--batch-size", "250", env=SMALL_BATCHES)
        time.sleep(rng.uniform(0.2, 1.2))
        if round_no % 2:
            central.kill()
            proc.kill()
            proc.wait(timeout=10)
            central.start()
        else:
            proc.kill()
            proc.wait(timeout=10)
    finish(site)
    assert_exactly_once(central, ids)


def test_slow_lossy_link_still_converges(tmp_path, central):
    proxy = LossyProxy(central.port, drop=0.25, cut=0.3, delay=0.005)
    try:
        site = make_site(tmp_path, "lossy")
        central.provision(site)
        ids = add_events(site, 3000)
        for _ in range(10):
            result = run_agent(site, proxy.url, "--batch-size", "200")
            if result.returncode == 0:
                break
        assert result.returncode == 0, result.stderr
    finally:
        proxy.close()
    assert proxy.stats["dropped"] + proxy.stats["cut"] > 0
    assert_exactly_once(central, ids)


def test_two_sites_syncing_at_once_each_arrive_whole(tmp_path, central):
    sites = [make_site(tmp_path, f"site-{n}") for n in range(2)]
    ids = []
    for site in sites:
        central.provision(site)
        ids += add_events(site, 3000)
    procs = [start_agent(site, "", "--batch-size", "250") for site in sites]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    assert_exactly_once(central, ids)
