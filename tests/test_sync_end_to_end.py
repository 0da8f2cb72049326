"""A site syncs to a real central server on loopback, through crashes and a bad link."""

from __future__ import annotations

import json

from tests.sync_support import (
    add_events,
    central_counts,
    make_site,
    run_agent,
)


def test_site_syncs_a_day_of_a_cohorts_work_exactly_once(tmp_path, central):
    site = make_site(tmp_path, "tec-a")
    central.provision(site)
    ids = add_events(site, 700)
    result = run_agent(site, "")  # the provisioned URL is used
    assert result.returncode == 0, result.stderr
    assert "Caught up" in result.stdout
    counts = central_counts(central.data_dir)
    assert counts["ids"] == set(ids)
    assert counts["total"] == 700


def test_sync_status_reports_nothing_pending_after_a_run(tmp_path, central):
    import subprocess

    from tests.sync_support import KRU

    site = make_site(tmp_path, "tec-b")
    central.provision(site)
    add_events(site, 50)
    assert run_agent(site, "").returncode == 0
    out = subprocess.run(
        [KRU, "--data-dir", str(site.home.root), "sync", "status"],
        env=site.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    status = json.loads(out.stdout)
    assert status["pending_events"] == 0
    assert status["last_success_at"]
    assert status["bytes_today"] > 0
