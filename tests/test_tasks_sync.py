"""A submission and its review reach a real central server: the ``submitted`` and
``reviewed`` events (checksums, no file) and the site's decision, which central counts."""

from __future__ import annotations

import json
import os

import pytest

from tests.sync_support import central_rows, make_site, run_agent
from tests.tasks_support import ALL_CLEAR, BELOW, SAMPLE, TASK

PASSWORD = "Ministry-Report-2026"


@pytest.fixture
def central(central_on_both):
    return central_on_both


def _work_on_site(site, tmp_path):
    """Install the sample pack; two learners hand in work; an instructor reviews it."""
    from content_packs.build import build_pack
    from content_packs.install import install_pack
    from edge_server import accounts
    from edge_server.accounts.models import User
    from edge_server.tasks import service

    zip_path = tmp_path / "sample.zip"
    build_pack(SAMPLE, zip_path)
    db = site.open()
    try:
        install_pack(zip_path, site.settings, site.home)
        teacher = accounts.create_user("sokha", PASSWORD, role="instructor")
        cohort = accounts.create_cohort("TEC Kandal 2026")
        accounts.add_to_cohort(cohort, teacher)
        shas = {}
        for name, rubric in (("dara", ALL_CLEAR), ("sophea", BELOW)):
            learner = accounts.create_user(name, PASSWORD)
            accounts.add_to_cohort(cohort, learner)
            work = site.home.tmp / f"{name}.pdf"
            work.parent.mkdir(parents=True, exist_ok=True)
            work.write_bytes(b"%PDF-1.5\n" + os.urandom(300_000))
            import hashlib

            shas[name] = hashlib.sha256(work.read_bytes()).hexdigest()
            row, _new = service.submit(
                learner, TASK, [service.Incoming(work, "plan.pdf")], "", site.settings, site.home
            )
            service.review(teacher, row.id, rubric, "Seen.", "accepted")
        return {u.username: u.uid for u in User.select()}, shas
    finally:
        db.close()


def test_submissions_and_reviews_reach_central_with_the_sites_decisions(tmp_path, central):
    server, url = central
    site = make_site(tmp_path, "tec-kandal")
    server.provision(site, name="TEC Kandal")
    uids, shas = _work_on_site(site, tmp_path)

    result = run_agent(site, "")
    assert result.returncode == 0, result.stderr

    rows = central_rows(
        server, url, "SELECT user_uid, verb, object, result, context FROM central_events"
    )
    submitted = {r[0]: json.loads(r[4]) for r in rows if r[1] == "submitted"}
    assert {uids["dara"], uids["sophea"]} == set(submitted)
    assert submitted[uids["dara"]]["files"][0]["sha256"] == shas["dara"]
    reviewed = {r[0]: json.loads(r[3]) for r in rows if r[1] == "reviewed"}
    assert reviewed[uids["dara"]]["success"] is True and reviewed[uids["dara"]]["score"] == 1.0
    assert reviewed[uids["sophea"]]["success"] is False
    decisions = {
        (uid, item): decision
        for uid, item, decision in central_rows(
            server, url, "SELECT user_uid, item, decision FROM central_decisions"
        )
        if item == TASK
    }
    assert decisions == {(uids["dara"], TASK): "passed", (uids["sophea"], TASK): "failed"}
    # No file travelled: the largest event stays small.
    assert max(len(r[4] or "") for r in rows) < 5000
