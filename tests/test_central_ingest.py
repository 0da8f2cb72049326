"""The central server's ingest endpoint: signatures, replays, corrupt and oversized bodies."""

from __future__ import annotations

import gzip
import time

import pytest

from sync import protocol
from sync.central import registry
from sync.central.models import CentralEvent, Device
from tests.central_support import make_batch, post
from tests.conftest import assert_api_error


@pytest.fixture
def device(central_app):
    made = registry.add_device("TEC Kandal", "http://central.example", "Kandal")
    return made.device


def stored() -> int:
    return CentralEvent.select().count()


def test_a_signed_batch_is_stored_and_acknowledged(central_app, device):
    batch = make_batch(device.device_id, count=3)
    response = post(central_app.test_client(), device, batch)
    assert response.status_code == 200
    assert response.get_json()["acked_seq"] == 3
    assert stored() == 3


def test_a_replayed_batch_is_acknowledged_again_and_stores_nothing(central_app, device):
    client = central_app.test_client()
    batch = make_batch(device.device_id, count=3)
    post(client, device, batch)
    again = post(client, device, batch)
    assert again.status_code == 200
    assert again.get_json()["replay"] is True
    assert again.get_json()["acked_seq"] == 3
    assert stored() == 3


def test_a_duplicated_batch_under_a_new_id_stores_each_event_once(central_app, device):
    client = central_app.test_client()
    batch = make_batch(device.device_id, count=4)
    post(client, device, batch)
    batch.batch_id = "another-id"
    second = post(client, device, batch)
    assert second.get_json()["stored"] == 0
    assert second.get_json()["duplicates"] == 4
    assert stored() == 4


def test_a_wrong_signature_gets_401_and_stores_nothing(central_app, device):
    batch = make_batch(device.device_id)
    response = post(central_app.test_client(), device, batch, secret="0" * 64)
    assert_api_error(response, 401, protocol.E_BAD_SIGNATURE)
    assert stored() == 0


def test_an_unknown_device_gets_401(central_app, device):
    batch = make_batch("site-unknown")
    fake = Device(device_id="site-unknown", secret=device.secret)
    assert_api_error(post(central_app.test_client(), fake, batch), 401, protocol.E_UNKNOWN_DEVICE)


def test_a_disabled_device_gets_403(central_app, device):
    registry.set_enabled(device.device_id, False)
    batch = make_batch(device.device_id)
    response = post(central_app.test_client(), device, batch)
    assert_api_error(response, 403, protocol.E_DEVICE_DISABLED)
    assert stored() == 0


def test_a_corrupt_gzip_body_is_refused_as_malformed(central_app, device):
    body = protocol.encode_batch(make_batch(device.device_id))
    corrupt = body[:20] + bytes(b ^ 0xFF for b in body[20:40]) + body[40:]
    response = post(central_app.test_client(), device, body=corrupt)
    assert_api_error(response, 400, protocol.E_MALFORMED_BATCH)
    assert stored() == 0


def test_a_truncated_batch_is_refused_whole(central_app, device):
    batch = make_batch(device.device_id, count=50)
    raw = gzip.decompress(protocol.encode_batch(batch))
    cut = gzip.compress(raw[: len(raw) // 2])  # valid gzip, half the lines
    response = post(central_app.test_client(), device, batch, body=cut)
    assert_api_error(response, 400, protocol.E_MALFORMED_BATCH)
    assert stored() == 0


def test_a_body_damaged_in_transit_is_refused_as_retryable(central_app, device):
    batch = make_batch(device.device_id)
    body = protocol.encode_batch(batch)
    headers = protocol.signed_headers(
        device.secret,
        "POST",
        protocol.BATCHES_PATH,
        device.device_id,
        batch.batch_id,
        body,
        batch.clock_ms,
    )
    response = central_app.test_client().post(
        protocol.BATCHES_PATH, data=body[:-5], headers=headers
    )
    assert_api_error(response, 400, protocol.E_DIGEST_MISMATCH)
    assert protocol.E_DIGEST_MISMATCH in protocol.RETRYABLE_CODES
    assert stored() == 0


def test_an_oversized_body_gets_413_before_it_is_read(central_app, device):
    body = b"\0" * (protocol.MAX_BODY_BYTES + 1)
    response = post(central_app.test_client(), device, body=body)
    assert_api_error(response, 413, protocol.E_BATCH_TOO_LARGE)


def test_a_gzip_bomb_is_refused(central_app, device):
    bomb = gzip.compress(b"\n" * (protocol.MAX_UNCOMPRESSED_BYTES + 10))
    response = post(central_app.test_client(), device, body=bomb)
    assert_api_error(response, 413, protocol.E_BATCH_TOO_LARGE)


def test_an_unsupported_protocol_version_is_refused_with_the_supported_list(central_app, device):
    batch = make_batch(device.device_id)
    body = protocol.encode_batch(batch)
    headers = protocol.signed_headers(
        device.secret,
        "POST",
        protocol.BATCHES_PATH,
        device.device_id,
        batch.batch_id,
        body,
        batch.clock_ms,
        version=99,
    )
    response = central_app.test_client().post(protocol.BATCHES_PATH, data=body, headers=headers)
    error = assert_api_error(response, 400, protocol.E_UNSUPPORTED_PROTOCOL)
    assert error["supported"] == [1, 2]


def test_a_missing_signature_header_is_named(central_app, device):
    response = central_app.test_client().post(protocol.BATCHES_PATH, data=b"x")
    error = assert_api_error(response, 400, protocol.E_MISSING_HEADER)
    assert "X-Kru-" in error["message"]


def test_a_skewed_site_clock_is_recorded_and_event_times_corrected(central_app, device):
    skew_ms = -3 * 3600 * 1000  # the Pi thinks it is three hours earlier
    batch = make_batch(device.device_id, count=1, clock_ms=int(time.time() * 1000) + skew_ms)
    batch.events[0].server_ms += skew_ms
    post(central_app.test_client(), device, batch)
    offset = Device.get_by_id(device.id).clock_offset_s
    assert offset == pytest.approx(3 * 3600, abs=5)
    event = CentralEvent.get()
    assert event.corrected_ms == pytest.approx(time.time() * 1000, abs=5000)


def test_a_gap_before_the_batch_holds_the_acknowledgement_back(central_app, device):
    client = central_app.test_client()
    later = make_batch(device.device_id, after=10, count=2)
    assert post(client, device, later).get_json()["acked_seq"] == 0
    earlier = make_batch(device.device_id, after=0, count=10)
    assert post(client, device, earlier).get_json()["acked_seq"] == 10


def _members(device) -> set[str]:
    from sync.central.models import SiteCohort, SiteCohortMember

    return {
        m.person_uid
        for m in SiteCohortMember.select()
        .join(SiteCohort)
        .where((SiteCohort.device == device.id) & (SiteCohort.uid == "c1"))
    }


def test_a_learner_moved_out_of_a_cohort_leaves_it_with_the_next_batch(central_app, device):
    from sync.protocol import CohortRecord

    client = central_app.test_client()
    first = make_batch(device.device_id, after=0, count=2)
    first.cohorts = [CohortRecord("c1", "ថ្នាក់ A", ["u1", "u2"])]
    post(client, device, first)
    assert _members(device) == {"u1", "u2"}

    second = make_batch(device.device_id, after=2, count=2)
    second.cohorts = [CohortRecord("c1", "ថ្នាក់ A", ["u1"])]
    post(client, device, second)
    assert _members(device) == {"u1"}

    again = post(client, device, first)  # a replay of the older batch changes nothing
    assert again.get_json()["replay"] is True
    assert _members(device) == {"u1"}
