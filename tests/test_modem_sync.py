"""The sync agent with a real (fake) modem on a pty: skip when unregistered, report the status."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.edge.agent import NO_MODEM_LINK, Agent
from tests.fakemodem import FakeModem
from tests.sync_support import add_events, central_counts, make_site


@pytest.fixture
def fake() -> Iterator[FakeModem]:
    with FakeModem() as m:
        yield m


def run_agent(site):
    db = site.open()
    try:
        return Agent(site.settings, site.home, db).run()
    finally:
        db.close()


def central_modem(data_dir: Path) -> dict | None:
    con = sqlite3.connect(data_dir / "central.sqlite3")
    try:
        row = con.execute("SELECT modem FROM devices").fetchone()
    finally:
        con.close()
    return json.loads(row[0]) if row and row[0] else None


def test_unregistered_modem_makes_the_agent_skip_sending(tmp_path, central, fake) -> None:
    fake.answers["AT+CREG?"] = (["+CREG: 0,2"], "OK")
    fake.answers["AT+CEREG?"] = (["+CEREG: 0,2"], "OK")
    site = make_site(tmp_path, "m1", **{"modem.port": fake.port, "modem.timeout_s": 0.5})
    central.provision(site)
    add_events(site, 10)
    assert run_agent(site).code == NO_MODEM_LINK
    assert central_counts(central.data_dir)["total"] == 0


def test_registered_modem_status_reaches_the_central_server(tmp_path, central, fake) -> None:
    site = make_site(tmp_path, "m2", **{"modem.port": fake.port, "modem.timeout_s": 0.5})
    central.provision(site)
    add_events(site, 10)
    assert run_agent(site).caught_up
    reported = central_modem(central.data_dir)
    assert reported is not None
    assert (reported["state"], reported["operator"], reported["bars"]) == ("ok", "Smart", 4)


@pytest.mark.timeout(30)
def test_silent_modem_does_not_stop_sync_over_another_link(tmp_path, central, fake) -> None:
    fake.silent = {"*"}
    site = make_site(tmp_path, "m3", **{"modem.port": fake.port, "modem.timeout_s": 0.5})
    central.provision(site)
    add_events(site, 10)
    assert run_agent(site).caught_up
    assert central_counts(central.data_dir)["total"] == 10
