"""Competency levels a site decides reach a real central server with the other events, and
central shows them by province and site without deciding anything itself (issue 16 item 6)."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing

import pytest
import requests

from content_packs.build import build_pack
from content_packs.install import install_pack
from tests.sync_support import CentralServer, make_site, run_agent
from tests.tasks_support import SAMPLE
from tests.test_competencies import CHECK, RIGHT, _reviewed
from tests.test_cpd_certificates_central import _signed_in


@pytest.fixture
def central(tmp_path):
    server = CentralServer(tmp_path / "central").start()
    yield server
    server.stop()


def _learn(site, tmp_path) -> None:
    """Install the sample pack; one learner passes the quiz, another's task is reviewed."""
    from edge_server import accounts
    from edge_server.competencies import profiles  # noqa: F401 - listens to event ingest
    from edge_server.learning import events as learning_events

    zip_path = tmp_path / "sample.zip"
    build_pack(SAMPLE, zip_path)
    db = site.open()
    try:
        install_pack(zip_path, site.settings, site.home)
        group = accounts.create_cohort("ក្រុម ក")
        one = accounts.create_user("dara", "lotus-pond-7", display_name="ដារា")
        two = accounts.create_user("sophea", "lotus-pond-7", display_name="សុភា")
        for user in (one, two):
            accounts.add_to_cohort(group, user)
        learning_events.submit_attempt(one, CHECK, str(uuid.uuid4()), RIGHT)
        learning_events.submit_attempt(two, CHECK, str(uuid.uuid4()), RIGHT)
        _reviewed(two, [("objective", "CTPS.2.1.1", 2, 2), ("timing", "CTPS.2.1.2", 1, 2)])
    finally:
        db.close()


def test_levels_sync_and_central_shows_them_by_province_and_site(tmp_path, central):
    site = make_site(tmp_path, "tec-battambang")
    central.provision(site, province="Battambang")
    _learn(site, tmp_path)
    assert run_agent(site, "").returncode == 0
    assert run_agent(site, "").returncode == 0  # nothing new: nothing counted twice
    with closing(sqlite3.connect(central.data_dir / "central.sqlite3")) as con:
        rows = con.execute(
            "SELECT object, result FROM central_events WHERE verb = 'assessed' ORDER BY seq"
        ).fetchall()
    assert sorted(r[0] for r in rows) == [
        "urn:kru:competency:CTPS.1.3",
        "urn:kru:competency:CTPS.1.3",
        "urn:kru:competency:CTPS.2.1",
    ]
    viewer = _signed_in(central, "viewer")
    body = viewer.get(f"{central.url}/api/v1/competencies", timeout=10).json()
    (province,) = body["provinces"]
    assert province["province"] == "Battambang"
    (line,) = province["sites"]
    assert line["site"] == "tec-battambang" and line["learners"] == 2
    assert line["competencies"]["CTPS.1.3"] == {"levels": [0, 0, 2, 0], "learners": 2}
    assert line["competencies"]["CTPS.2.1"]["levels"] == [0, 0, 1, 0]  # 75 %: developing
    titles = {c["code"]: c for c in body["competencies"]}
    assert titles["CTPS.1.3"]["domain_title"]["en"] == "Professional knowledge"
    assert titles["CTPS.1.3"]["sample"] is True
    page = viewer.get(f"{central.url}/competencies", timeout=10).content.decode("utf-8")
    assert 'data-province="Battambang"' in page and "tec-battambang" in page
    assert 'id="sample-note"' in page
    anonymous = requests.get(f"{central.url}/competencies", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 302
    assert requests.get(f"{central.url}/api/v1/competencies", timeout=10).status_code == 401
