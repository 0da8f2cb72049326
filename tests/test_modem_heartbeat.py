"""SMS heartbeat: when it goes out, what it says, the daily limit, and the record of sends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_server.base.db import db
from sync.modem.heartbeat import compose, maybe_send_heartbeat
from tests.fakemodem import FakeModem

NUMBER = "+85512345678"
OFFLINE = {"device_id": "tec-kampot-01", "pending_events": 1234, "last_success_at": None}


@pytest.fixture
def fake() -> Iterator[FakeModem]:
    with FakeModem() as m:
        yield m


@pytest.fixture
def settings(app, fake: FakeModem):
    return app.config["KRU"].replace(
        modem__port=fake.port,
        modem__timeout_s=0.5,
        modem__sms_heartbeat=True,
        modem__sms_number=NUMBER,
        modem__sms_after_hours=24,
        modem__sms_max_per_day=1,
    )


def sends() -> list[tuple]:
    return db.execute_sql(
        "SELECT kind, number, outcome, detail, body FROM modem_sms ORDER BY id"
    ).fetchall()


def test_offline_site_sends_one_heartbeat_to_the_ministry(settings, fake: FakeModem) -> None:
    assert maybe_send_heartbeat(settings, OFFLINE) is True
    assert [to for to, _ in fake.sent_sms] == [NUMBER]
    assert "AT+CMGF=1" in fake.received


def test_heartbeat_text_names_site_pending_last_sync_and_free_disk(settings, fake) -> None:
    status = {**OFFLINE, "last_success_at": "2026-03-01T08:30:00+00:00"}
    maybe_send_heartbeat(settings, status, now=datetime(2026, 3, 3, tzinfo=UTC))
    text = fake.sent_sms[0][1]
    assert "site=tec-kampot-01" in text
    assert "pending=1234" in text
    assert "lastsync=2026-03-01T08:30Z" in text
    assert "free=" in text and "GB" in text
    assert len(text) <= 160 and text.isascii()


def test_send_is_recorded(settings, fake: FakeModem) -> None:
    maybe_send_heartbeat(settings, OFFLINE)
    [(kind, number, outcome, detail, body)] = sends()
    assert (kind, number, outcome, detail) == ("heartbeat", NUMBER, "sent", "")
    assert body == fake.sent_sms[0][1]


def test_recent_sync_means_no_heartbeat(settings, fake: FakeModem) -> None:
    recent = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    assert maybe_send_heartbeat(settings, {**OFFLINE, "last_success_at": recent}) is False
    assert fake.sent_sms == []


def test_link_down_longer_than_the_setting_sends(settings, fake: FakeModem) -> None:
    old = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
    assert maybe_send_heartbeat(settings, {**OFFLINE, "last_success_at": old}) is True


def test_heartbeat_off_sends_nothing(settings, fake: FakeModem) -> None:
    off = settings.replace(modem__sms_heartbeat=False)
    assert maybe_send_heartbeat(off, OFFLINE) is False
    assert fake.received == []


def test_daily_maximum_is_kept(settings, fake: FakeModem) -> None:
    two = settings.replace(modem__sms_max_per_day=2)
    results = [maybe_send_heartbeat(two, OFFLINE) for _ in range(4)]
    assert results == [True, True, False, False]
    assert len(fake.sent_sms) == 2


def test_next_day_allows_another_heartbeat(settings, fake: FakeModem) -> None:
    maybe_send_heartbeat(settings, OFFLINE)
    tomorrow = datetime.now(UTC) + timedelta(hours=25)
    assert maybe_send_heartbeat(settings, OFFLINE, now=tomorrow) is True
    assert len(fake.sent_sms) == 2


def test_maximum_zero_never_sends(settings, fake: FakeModem) -> None:
    assert maybe_send_heartbeat(settings.replace(modem__sms_max_per_day=0), OFFLINE) is False
    assert fake.sent_sms == []


def test_refused_sms_is_recorded_as_failed(settings, fake: FakeModem) -> None:
    fake.sms_error = "+CMS ERROR: 500"
    assert maybe_send_heartbeat(settings, OFFLINE) is False
    [(_, _, outcome, detail, _)] = sends()
    assert outcome == "failed"
    assert "+CMS ERROR: 500" in detail


def test_failed_attempt_is_not_repeated_within_the_hour(settings, fake: FakeModem) -> None:
    fake.sms_error = "+CMS ERROR: 500"
    maybe_send_heartbeat(settings, OFFLINE)
    fake.sms_error = None
    assert maybe_send_heartbeat(settings, OFFLINE) is False
    later = datetime.now(UTC) + timedelta(hours=2)
    assert maybe_send_heartbeat(settings, OFFLINE, now=later) is True


@pytest.mark.timeout(20)
def test_modem_silent_at_send_is_recorded_and_does_not_hang(settings, fake: FakeModem) -> None:
    fake.silent = {f'AT+CMGS="{NUMBER}"'}
    assert maybe_send_heartbeat(settings.replace(modem__timeout_s=0.2), OFFLINE) is False
    assert sends()[0][2:4] == ("failed", f'The modem did not answer AT+CMGS="{NUMBER}"')


def test_modem_unplugged_is_recorded_as_failed(settings, tmp_path: Path) -> None:
    gone = settings.replace(modem__port=str(tmp_path / "ttyUSB2"))
    assert maybe_send_heartbeat(gone, OFFLINE) is False
    assert sends()[0][2] == "failed"
    assert "not reachable" in sends()[0][3]


def test_unplugged_mid_send_is_recorded_as_failed(settings, fake: FakeModem) -> None:
    fake.hangup_on = "AT+CMGF=1"
    assert maybe_send_heartbeat(settings, OFFLINE) is False
    assert sends()[0][2] == "failed"


@pytest.mark.parametrize("number", ["", "ministry", "+855 12 abc"])
def test_bad_number_sends_nothing_and_records_nothing(settings, fake, number: str) -> None:
    assert maybe_send_heartbeat(settings.replace(modem__sms_number=number), OFFLINE) is False
    assert fake.received == []
    assert sends() == []


def test_site_name_stands_in_when_not_provisioned(settings) -> None:
    text = compose(settings.replace(site_name="Kampot TEC"), {"pending_events": 0})
    assert "site=KampotTEC" in text
    assert "lastsync=never" in text
