"""Central ``/metrics``: Prometheus exposition read from the database after real ingests, on
SQLite and PostgreSQL, open only to configured addresses or with the metrics token."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sync import protocol
from sync.central import registry
from sync.central.db import database
from sync.central.models import Device
from tests.central_support import make_batch, post
from tests.conftest import assert_api_error
from tests.sync_support import FAST, pg_base_url, pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def central_app(request, tmp_path, monkeypatch) -> Iterator:
    from sync.central import create_app

    for var in [v for v in os.environ if v.startswith("KRU_") and v != "KRU_TEST_DATABASE_URL"]:
        monkeypatch.delenv(var)
    config = {"data_dir": str(tmp_path / "central"), "TESTING": True, **FAST}
    if request.param == "sqlite":
        yield _made(create_app, config)
        return
    base = pg_base_url()
    if base is None:
        pytest.skip("KRU_TEST_DATABASE_URL is not set (export it to run PostgreSQL tests)")
    with pg_database(base) as url:
        yield _made(create_app, {**config, "central.database_url": url})
        database.close()


def _made(create_app, config):
    app = create_app({**config, "central.metrics_token": "s3cret-token-for-prometheus"})
    database.connect(reuse_if_open=True)
    return app


def scrape(app, **kwargs) -> dict[str, dict[tuple, float]]:
    """Return {sample name: {sorted labels: value}} of one scrape, parsed by prometheus_client."""
    response = app.test_client().get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def test_metrics_count_batches_events_rejects_and_latency_after_real_ingest(central_app):
    site = registry.add_device("TEC Kandal", "http://central.example", "Kandal").device
    registry.add_device("CTC Kampot", "http://central.example", "Kampot")
    client = central_app.test_client()
    assert post(client, site, make_batch(site.device_id, count=3)).status_code == 200
    assert post(client, site, make_batch(site.device_id, after=3, count=4)).status_code == 200
    bad = make_batch(site.device_id, after=7, count=2)
    assert post(client, site, bad, secret="0" * 64).status_code == 401
    assert post(client, site, bad, secret="0" * 64).status_code == 401
    digest = post(client, site, bad, body=protocol.encode_batch(make_batch(site.device_id)))
    assert digest.status_code == 400

    m = scrape(central_app)
    assert m["kru_central_batches_total"][()] == 2
    assert m["kru_central_events_total"][()] == 7
    assert m["kru_central_batch_rejects_total"] == {
        (("reason", protocol.E_BAD_SIGNATURE),): 2,
        (("reason", digest.get_json()["error"]["code"]),): 1,
    }
    assert m["kru_central_ingest_seconds_count"][()] == 2
    assert m["kru_central_ingest_seconds_bucket"][(("le", "+Inf"),)] == 2
    assert 0 < m["kru_central_ingest_seconds_sum"][()] < 60
    assert m["kru_central_lrs_queue"] == {
        (("state", "pending"),): 7,
        (("state", "sent"),): 0,
        (("state", "rejected"),): 0,
    }
    assert m["kru_central_devices"] == {(("state", "enabled"),): 2, (("state", "disabled"),): 0}
    assert m["kru_central_sites_never_seen"][()] == 1
    last_seen = m["kru_central_site_last_seen_timestamp_seconds"]
    assert list(last_seen) == [(("device_id", site.device_id), ("province", "Kandal"))]
    assert abs(next(iter(last_seen.values())) - datetime.now(UTC).timestamp()) < 120


def test_a_replayed_batch_adds_no_batch_nor_event(central_app):
    site = registry.add_device("TEC Kandal", "http://central.example", "Kandal").device
    client = central_app.test_client()
    batch = make_batch(site.device_id, count=3)
    post(client, site, batch)
    post(client, site, batch)
    m = scrape(central_app)
    assert m["kru_central_batches_total"][()] == 1
    assert m["kru_central_events_total"][()] == 3
    assert m["kru_central_ingest_seconds_count"][()] == 2  # both answered


def test_sites_silent_for_more_than_the_setting_are_counted(central_app):
    old = (datetime.now(UTC) - timedelta(days=8)).isoformat(timespec="seconds")
    recent = (datetime.now(UTC) - timedelta(days=6)).isoformat(timespec="seconds")
    for name, seen, enabled in [("a", old, True), ("b", recent, True), ("c", old, False)]:
        made = registry.add_device(name, "http://central.example", "Takeo").device
        Device.update(last_seen_at=seen, enabled=enabled).where(Device.id == made.id).execute()
    assert scrape(central_app)["kru_central_sites_silent"][()] == 1  # 7 days by default
    central_app.config["KRU"] = central_app.config["KRU"].replace(central__silent_days=5)
    assert scrape(central_app)["kru_central_sites_silent"][()] == 2


def test_sites_needing_attention_are_counted_by_warning(central_app):
    import json

    recent = datetime.now(UTC).isoformat(timespec="seconds")
    weak = registry.add_device("weak", "http://central.example", "Takeo").device
    status = {"power": {"advice": "power_supply"}, "disk": {"low": True}}
    Device.update(last_seen_at=recent, status=json.dumps(status)).where(
        Device.id == weak.id
    ).execute()
    cloned = registry.add_device("cloned", "http://central.example", "Takeo").device
    Device.update(last_seen_at=recent, machine="m1", clash_machine="m2").where(
        Device.id == cloned.id
    ).execute()
    registry.add_device("never", "http://central.example", "Takeo")
    warnings = {
        dict(k)["warning"]: v for k, v in scrape(central_app)["kru_central_sites_warning"].items()
    }
    assert warnings == {
        "silent": 0, "never": 1, "disk_low": 1, "power": 1, "heat": 0, "clock": 0,
        "identity_clash": 1,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("remote", "authorization", "status"),
    [
        ("127.0.0.1", None, 200),
        ("::1", None, 200),
        ("203.0.113.9", None, 403),
        ("203.0.113.9", "Bearer s3cret-token-for-prometheus", 200),
        ("203.0.113.9", "Bearer wrong", 403),
        ("203.0.113.9", "Basic s3cret-token-for-prometheus", 403),
    ],
)
def test_metrics_are_open_to_allowed_addresses_or_the_token(
    central_app, remote, authorization, status
):
    headers = {"Authorization": authorization} if authorization else {}
    response = central_app.test_client().get(
        "/metrics", headers=headers, environ_base={"REMOTE_ADDR": remote}
    )
    if status == 403:
        assert_api_error(response, 403, "metrics_forbidden")
    else:
        assert response.status_code == 200


def test_an_allowed_network_opens_metrics_to_its_addresses(central_app):
    central_app.config["KRU"] = central_app.config["KRU"].replace(
        central__metrics_allow=["10.20.0.0/16", "not-an-address"]
    )
    client = central_app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.3.4"}).status_code == 200
    refused = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.21.0.1"})
    assert_api_error(refused, 403, "metrics_forbidden")
    assert_api_error(client.get("/metrics"), 403, "metrics_forbidden")  # 127.0.0.1 not listed
