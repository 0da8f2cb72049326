"""Forwarding statements to a real learning record store (Ralph's LRS), through an outage."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from edge_server.base.settings import load_settings
from sync import protocol
from sync.central import lrs_forward, registry
from sync.central.db import database
from sync.central.ingest import ingest_batch
from sync.protocol import EventRecord
from tests.central_support import PUBLIC
from tests.ralph_support import RalphLrs
from tests.test_central_xapi import every_kind


@pytest.fixture
def app(public_central_app):
    return public_central_app


def config(lrs: RalphLrs, batch_size: int = 5) -> lrs_forward.LrsConfig:
    return lrs_forward.LrsConfig(
        url=lrs.url,
        username=lrs.username,
        password=lrs.password,
        batch_size=batch_size,
        timeout_s=10,
        public_url=PUBLIC,
        names=False,
    )


def more_events(device, after: int, count: int):
    batch, _kinds = every_kind(device.device_id)
    batch.events = [
        EventRecord(
            after + i + 1,
            str(uuid.uuid4()),
            batch.users[0].uid,
            "viewed",
            "p/lesson",
            {"duration_s": i + 1},
            None,
            None,
            batch.clock_ms,
            "b",
        )
        for i in range(count)
    ]
    batch.after, batch.last = after, after + count
    batch.batch_id = protocol.batch_id_for(device.device_id, after, after + count)
    return batch


def test_statements_reach_the_lrs_once_through_an_outage(app, ralph_python, tmp_path):
    device = registry.add_device("TEC Takeo", PUBLIC, "Takeo").device
    first, _kinds = every_kind(device.device_id)
    n = len(first.events)  # one statement per event kind Kru has
    ingest_batch(database, device, first)
    lrs = RalphLrs(ralph_python, tmp_path / "lrs", "kru-central", "lrs-secret-2026")
    lrs.start()
    try:
        report = lrs_forward.run_pass(config(lrs))
        assert (report.queued, report.sent, report.error) == (n, n, None)
        assert report.batches == [min(5, n - s) for s in range(0, n, 5)]  # batch size 5
        lrs.stop()  # the LRS goes down; sites keep sending
        ingest_batch(database, device, more_events(device, n, 23))
        down = lrs_forward.run_pass(config(lrs))
        assert down.queued == 23 and down.sent == 0
        assert "did not answer" in (down.error or "")
        status = lrs_forward.status()
        assert (status["pending"], status["sent"]) == (23, n)
        assert status["last_error"]
        # A pass that stopped after the LRS stored a batch but before it was marked sent.
        database.execute_sql("UPDATE lrs_queue SET state = 'pending' WHERE event_pk IN (1, 2)")
        lrs.start()
        resumed = lrs_forward.run_pass(config(lrs))
        assert resumed.error is None
        assert resumed.sent + resumed.already_held == 25
        # The LRS either says 409 for the two it holds or accepts them again as a no-op.
        held = lrs.statements()
        stored_ids = [row[0] for row in database.execute_sql("SELECT event_id FROM central_events")]
        assert sorted(s["id"] for s in held) == sorted(stored_ids)  # each once
        assert len(held) == n + 23
        assert lrs_forward.status()["pending"] == 0
        again = lrs_forward.run_pass(config(lrs))
        assert (again.queued, again.sent) == (0, 0)
        assert all(s["actor"]["account"]["homePage"] == PUBLIC for s in held)
        # Sent again with other content under the same id (the LRS answers 409): the LRS's
        # copy stands, the batch's other statements are delivered one by one.
        database.execute_sql("UPDATE central_events SET result = '{\"score\": 0.1}' WHERE id = 3")
        database.execute_sql("UPDATE lrs_queue SET state = 'pending' WHERE event_pk IN (3, 4)")
        conflict = lrs_forward.run_pass(config(lrs))
        assert (conflict.already_held, conflict.error) == (1, None)
        assert conflict.sent + conflict.already_held == 2
        assert len(lrs.statements()) == n + 23
    finally:
        lrs.stop()


def test_wrong_lrs_credentials_keep_the_statements_queued(app, ralph_python, tmp_path):
    device = registry.add_device("TEC Takeo", PUBLIC, "Takeo").device
    batch = every_kind(device.device_id)[0]
    ingest_batch(database, device, batch)
    lrs = RalphLrs(ralph_python, tmp_path / "lrs", "kru-central", "lrs-secret-2026")
    lrs.start()
    try:
        bad = config(lrs)
        bad.password = "wrong"
        report = lrs_forward.run_pass(bad)
        assert report.sent == 0
        assert "401" in (report.error or "")
        assert lrs_forward.status()["pending"] == len(batch.events)
        assert lrs.statements() == []
    finally:
        lrs.stop()


def central_cli(tmp_path, *args: str, env: dict | None = None):
    from edge_server.cli.main import get_cli

    return CliRunner().invoke(
        get_cli(), ["central", "--data-dir", str(tmp_path / "cli"), "lrs", *args], env=env or {}
    )


def test_lrs_run_without_a_url_is_one_line_and_exit_1(tmp_path, monkeypatch):
    for var in [v for v in __import__("os").environ if v.startswith("KRU_")]:
        monkeypatch.delenv(var)
    result = central_cli(tmp_path, "run")
    assert result.exit_code == 1
    assert "central.lrs_url" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_lrs_status_prints_the_queue(tmp_path, monkeypatch):
    for var in [v for v in __import__("os").environ if v.startswith("KRU_")]:
        monkeypatch.delenv(var)
    result = central_cli(tmp_path, "status")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["pending"], body["sent"], body["lrs_url"]) == (0, 0, None)


def test_settings_read_the_lrs_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KRU_CENTRAL_LRS_URL", "https://lrs.example.gov.kh/")
    monkeypatch.setenv("KRU_CENTRAL_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("KRU_CENTRAL_LRS_BATCH_SIZE", "50")
    made = lrs_forward.LrsConfig.from_settings(load_settings(overrides={"data_dir": str(tmp_path)}))
    assert (made.url, made.batch_size) == ("https://lrs.example.gov.kh", 50)


def test_forwarding_needs_the_public_url(monkeypatch, tmp_path):
    for var in [v for v in __import__("os").environ if v.startswith("KRU_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("KRU_CENTRAL_LRS_URL", "https://lrs.example.gov.kh")
    with pytest.raises(Exception, match="central.public_url"):
        lrs_forward.LrsConfig.from_settings(load_settings(overrides={"data_dir": str(tmp_path)}))


def test_the_dashboard_shows_the_queue(tmp_path, monkeypatch):
    from tests.central_support import sign_in
    from tests.test_central_xapi import central

    made = central(
        tmp_path,
        monkeypatch,
        **{"central.public_url": PUBLIC, "central.lrs_url": "http://127.0.0.1:9/"},
    )
    device = registry.add_device("TEC Takeo", PUBLIC, "Takeo").device
    batch = every_kind(device.device_id)[0]
    ingest_batch(database, device, batch)
    report = lrs_forward.run_pass(lrs_forward.LrsConfig.from_settings(made.config["KRU"]))
    assert report.error
    client = made.test_client()
    sign_in(client)
    with client.session_transaction() as browser:
        browser["lang"] = "en"
    page = client.get("/").get_data(as_text=True)
    assert f"Waiting: {len(batch.events)} · sent: 0 · refused: 0" in page
    assert "did not answer" in page
