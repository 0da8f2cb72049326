"""Sync protocol 2 at the central server: clock epochs, the machine in the signature, the
site's status, and batches of version 1 still accepted (issues 19 and 20)."""

from __future__ import annotations

import json
import time

import pytest

from sync import protocol
from sync.central import registry
from sync.central.models import CentralEvent, Device, DeviceBootClock
from tests.central_support import make_batch, post
from tests.conftest import assert_api_error

HOUR_MS = 3600 * 1000


@pytest.fixture
def device(central_app):
    return registry.add_device("TEC Takeo", "http://central.example", "Takeo").device


def send_status(client, device, status, clock_ms, machine="m-one", version=2):
    body = json.dumps(status).encode()
    headers = protocol.signed_headers(
        device.secret,
        "POST",
        protocol.STATUS_PATH,
        device.device_id,
        protocol.NO_BATCH,
        body,
        clock_ms,
        version,
        machine,
    )
    return client.post(protocol.STATUS_PATH, data=body, headers=headers)


@pytest.mark.parametrize("version", [1, 2])
def test_batches_of_both_versions_are_stored_and_acknowledged(central_app, device, version):
    batch = make_batch(device.device_id, count=4)
    batch.boot = "boot-a"
    for ev in batch.events:
        ev.boot_id = "boot-a"
    response = post(central_app.test_client(), device, batch, version=version)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["acked_seq"] == 4
    assert response.get_json()["protocol"] == version
    assert CentralEvent.select().count() == 4
    assert Device.get_by_id(device.id).protocol == version
    # Either way the epoch it was built in is learned.
    assert DeviceBootClock.get().boot_id == "boot-a"


def test_version_2_encodes_epochs_and_status_and_decodes_them():
    batch = make_batch("site-x", count=2)
    batch.boot = "boot-a+1"
    batch.events[0].boot_id = "boot-a"
    batch.events[1].boot_id = "boot-a+1"
    batch.status = {"disk": {"low": True}}
    decoded = protocol.decode_batch(protocol.encode_batch(batch))
    assert decoded.version == 2 and decoded.boot == "boot-a+1"
    assert [ev.boot_id for ev in decoded.events] == ["boot-a", "boot-a+1"]
    assert decoded.status == {"disk": {"low": True}}
    batch.version = 1
    old = protocol.decode_batch(protocol.encode_batch(batch))
    assert old.version == 1 and old.boot == "boot-a+1" and old.status is None


def test_version_2_without_the_machine_header_is_refused(central_app, device):
    batch = make_batch(device.device_id)
    body = protocol.encode_batch(batch)
    headers = protocol.signed_headers(
        device.secret, "POST", protocol.BATCHES_PATH, device.device_id, batch.batch_id, body,
        batch.clock_ms, 2, "m-one",
    )  # fmt: skip
    del headers[protocol.H_MACHINE]
    response = central_app.test_client().post(protocol.BATCHES_PATH, data=body, headers=headers)
    error = assert_api_error(response, 400, protocol.E_MISSING_HEADER)
    assert protocol.H_MACHINE in error["message"]


def test_a_changed_machine_header_breaks_the_signature(central_app, device):
    batch = make_batch(device.device_id)
    body = protocol.encode_batch(batch)
    headers = protocol.signed_headers(
        device.secret, "POST", protocol.BATCHES_PATH, device.device_id, batch.batch_id, body,
        batch.clock_ms, 2, "m-one",
    )  # fmt: skip
    headers[protocol.H_MACHINE] = "m-two"
    response = central_app.test_client().post(protocol.BATCHES_PATH, data=body, headers=headers)
    assert_api_error(response, 401, protocol.E_BAD_SIGNATURE)
    assert Device.get_by_id(device.id).clash_machine is None


def make_two_epoch_batch(device, now):
    """Four events: two recorded while the Pi was two hours behind (epoch boot-a), two after
    the admin set its clock (epoch boot-a+1), in a batch built in boot-a+1."""
    batch = make_batch(device.device_id, count=4, clock_ms=now)
    for ev in batch.events[:2]:
        ev.boot_id = "boot-a"
        ev.server_ms = now - 2 * HOUR_MS - 60_000
    for ev in batch.events[2:]:
        ev.boot_id = "boot-a+1"
        ev.server_ms = now - 1000
    batch.boot = "boot-a+1"
    return batch


def test_an_epoch_never_heard_online_is_marked_clock_unknown(central_app, device):
    now = int(time.time() * 1000)
    batch = make_two_epoch_batch(device, now)
    assert post(central_app.test_client(), device, batch, machine="m-one").status_code == 200
    rows = {ev.seq: ev for ev in CentralEvent.select()}
    assert rows[1].clock_unknown and rows[1].corrected_ms == rows[1].server_ms
    assert not rows[3].clock_unknown
    assert abs(rows[3].corrected_ms - (now - 1000)) < 5000


def test_each_epoch_is_corrected_with_its_own_offset(central_app, device):
    client = central_app.test_client()
    now = int(time.time() * 1000)
    # The site reported its status in boot-a, before the clock was set: boot-a's offset.
    early = send_status(client, device, {"epoch": "boot-a"}, now - 2 * HOUR_MS - 30_000)
    assert early.status_code == 200 and early.get_json()["stored"]
    batch = make_two_epoch_batch(device, now)
    assert post(client, device, batch, machine="m-one").status_code == 200
    rows = {ev.seq: ev for ev in CentralEvent.select()}
    assert not any(ev.clock_unknown for ev in rows.values())
    assert abs(rows[1].corrected_ms - (now - 30_000)) < 10_000  # two hours added
    assert abs(rows[3].corrected_ms - (now - 1000)) < 5000  # nothing added


def test_an_earlier_epoch_of_the_same_boot_is_derived_from_the_clocks_step(central_app, device):
    """The site says each epoch's base (wall clock minus time since boot): setting the clock
    two hours ahead moved the base two hours, so boot-a's offset is boot-a+1's plus two hours,
    though boot-a was never heard online."""
    now = int(time.time() * 1000)
    batch = make_two_epoch_batch(device, now)
    batch.bases = {"boot-a": 1_000_000, "boot-a+1": 1_000_000 + 2 * HOUR_MS}
    assert post(central_app.test_client(), device, batch, machine="m-one").status_code == 200
    rows = {ev.seq: ev for ev in CentralEvent.select()}
    assert not any(ev.clock_unknown for ev in rows.values())
    assert abs(rows[1].corrected_ms - (now - 60_000)) < 5000
    assert abs(rows[3].corrected_ms - (now - 1000)) < 5000


def test_malformed_bases_make_the_batch_malformed(central_app, device):
    batch = make_batch(device.device_id)
    batch.bases = {"boot-a": "noon"}  # type: ignore[dict-item]
    response = post(central_app.test_client(), device, batch, machine="m-one")
    assert_api_error(response, 400, protocol.E_MALFORMED_BATCH)
    assert CentralEvent.select().count() == 0


def test_a_replayed_status_report_teaches_nothing(central_app, device):
    client = central_app.test_client()
    now = int(time.time() * 1000)
    assert send_status(client, device, {"epoch": "b"}, now).get_json()["stored"]
    again = send_status(client, device, {"epoch": "b", "disk": {"low": True}}, now)
    assert again.status_code == 200 and not again.get_json()["stored"]
    assert "low" not in (Device.get_by_id(device.id).status or "")


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"'])
def test_a_status_report_that_is_not_an_object_is_refused(central_app, device, body):
    headers = protocol.signed_headers(
        device.secret, "POST", protocol.STATUS_PATH, device.device_id, protocol.NO_BATCH, body,
        int(time.time() * 1000), 2, "m-one",
    )  # fmt: skip
    response = central_app.test_client().post(protocol.STATUS_PATH, data=body, headers=headers)
    assert_api_error(response, 400, protocol.E_BAD_STATUS)
    assert Device.get_by_id(device.id).status is None


def test_status_keeps_only_known_fields_and_short_strings(central_app, device):
    status = {
        "kru_version": "2.1.0",
        "power": {"pi": True, "advice": "power_supply", "found": ["under_voltage"]},
        "disk": {"free_bytes": 10, "low": True, "note": "x" * 5000},
        "secret": "never stored",
    }
    send_status(central_app.test_client(), device, status, int(time.time() * 1000))
    row = Device.get_by_id(device.id)
    stored = json.loads(row.status)
    assert "secret" not in stored and len(stored["disk"]["note"]) == 200
    assert row.kru_version == "2.1.0" and row.status_via == "online"


def test_a_second_machine_with_one_identity_is_refused_until_replaced(central_app, device):
    client = central_app.test_client()
    first = make_batch(device.device_id, count=2)
    assert post(client, device, first, machine="m-one").status_code == 200
    clone = make_batch(device.device_id, after=2, count=2)
    response = post(client, device, clone, machine="m-two")
    error = assert_api_error(response, 409, protocol.E_IDENTITY_CLASH)
    assert device.device_id in error["message"]
    assert CentralEvent.select().count() == 2  # nothing of the clone's batch is stored
    row = Device.get_by_id(device.id)
    assert row.machine == "m-one" and row.clash_machine == "m-two" and row.clash_at
    # The first machine keeps syncing meanwhile.
    assert (
        post(client, device, make_batch(device.device_id, 2, 1), machine="m-one").status_code == 200
    )
    from sync.central import fleet_health

    fleet_health.replace_machine(device.device_id)
    assert post(client, device, clone, machine="m-two").status_code == 200
    old = make_batch(device.device_id, after=10, count=1)
    assert_api_error(post(client, device, old, machine="m-one"), 409, protocol.E_IDENTITY_CLASH)
    row = Device.get_by_id(device.id)
    assert row.machine == "m-two" and row.replaced_machine == "m-one"


def test_a_site_of_version_2_speaks_1_to_a_central_of_version_1(tmp_path, monkeypatch):
    """A central not yet updated refuses the first hello; the site probes again in 1."""
    import threading

    from werkzeug.serving import make_server

    from sync.central import create_app
    from sync.central.db import database
    from sync.edge.agent import Agent
    from tests.sync_support import add_events, central_counts, make_site

    for var in [v for v in __import__("os").environ if v.startswith("KRU_")]:
        monkeypatch.delenv(var)
    monkeypatch.setattr(protocol, "SUPPORTED_VERSIONS", (1,))  # the central of before
    app = create_app({"data_dir": str(tmp_path / "central"), "auth.hash_memory_kib": 1024,
                      "auth.hash_time_cost": 1})  # fmt: skip
    made = registry.add_device("TEC Kep", "http://127.0.0.1", "Kep")
    database.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        provisioning = tmp_path / "kep.toml"
        provisioning.write_text(
            made.provisioning.replace('central_url = "http://127.0.0.1"', f'central_url = "{url}"')
        )
        site = make_site(tmp_path, "tec-kep")
        from sync.edge.identity import provision

        provision(site.home, provisioning)
        ids = add_events(site, 12)
        db = site.open()
        try:
            result = Agent(site.settings, site.home, db).run()
        finally:
            db.close()
    finally:
        server.shutdown()
    assert result.caught_up and result.events_sent == 12
    counts = central_counts(tmp_path / "central")
    assert counts["ids"] == set(ids) and counts["total"] == 12
    import sqlite3

    con = sqlite3.connect(tmp_path / "central" / "central.sqlite3")
    try:
        assert con.execute("SELECT protocol, machine FROM devices").fetchone() == (1, None)
    finally:
        con.close()
