"""``kru modem status``, ``kru modem heartbeat`` and ``kru modem sms-log``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakemodem import FakeModem

NUMBER = "+85512345678"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeModem]:
    with FakeModem() as m:
        monkeypatch.setenv("KRU_MODEM_PORT", m.port)
        monkeypatch.setenv("KRU_MODEM_TIMEOUT_S", "0.5")
        monkeypatch.setenv("KRU_MODEM_SMS_NUMBER", NUMBER)
        yield m


def test_status_json_has_state_signal_and_operator(runner, fake: FakeModem) -> None:
    result = runner("modem", "status", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert (status["state"], status["bars"], status["signal_dbm"]) == ("ok", 4, -73)
    assert (status["operator"], status["technology"], status["port"]) == ("Smart", "4G", fake.port)


def test_status_for_people_shows_signal_and_network(runner, fake: FakeModem) -> None:
    result = runner("modem", "status")
    assert result.exit_code == 0
    assert "State:       ok - Registered on the network with packet data." in result.output
    assert "Signal:      -73 dBm  [####.] 4/5" in result.output
    assert "Operator:    Smart (4G)" in result.output


def test_port_option_overrides_the_setting(runner, fake: FakeModem, tmp_path: Path) -> None:
    result = runner("modem", "status", "--port", str(tmp_path / "ttyUSB7"), "--json")
    status = json.loads(result.output)
    assert (status["state"], status["port"]) == ("no_modem", str(tmp_path / "ttyUSB7"))


def test_status_of_a_missing_modem_says_so(runner, fake: FakeModem, tmp_path: Path) -> None:
    result = runner("modem", "status", "--port", str(tmp_path / "ttyUSB7"))
    assert result.exit_code == 0
    assert "no_modem - No modem found." in result.output
    assert "Signal" not in result.output


def test_status_of_a_sim_without_pin_shows_the_sim_state(runner, fake: FakeModem) -> None:
    fake.answers["AT+CPIN?"] = (["+CPIN: SIM PIN"], "OK")
    result = runner("modem", "status")
    assert "sim_not_ready - The SIM card is not ready." in result.output
    assert "SIM:         SIM PIN" in result.output


def test_heartbeat_force_sends_a_test_sms(runner, fake: FakeModem) -> None:
    result = runner("modem", "heartbeat", "--force")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Sent a test heartbeat (reference 1): KRU HB site=")
    assert [to for to, _ in fake.sent_sms] == [NUMBER]


def test_heartbeat_not_due_says_why(runner, fake: FakeModem) -> None:
    result = runner("modem", "heartbeat")
    assert result.exit_code == 0
    assert result.output == "No heartbeat due: modem.sms_heartbeat is off.\n"
    assert fake.sent_sms == []


def test_heartbeat_due_is_sent(runner, fake: FakeModem, monkeypatch) -> None:
    monkeypatch.setenv("KRU_MODEM_SMS_HEARTBEAT", "true")
    result = runner("modem", "heartbeat")
    assert result.output == "Sent a heartbeat (reference 1).\n"
    assert len(fake.sent_sms) == 1


def test_heartbeat_without_a_number_fails_in_one_line(runner, fake, monkeypatch) -> None:
    monkeypatch.setenv("KRU_MODEM_SMS_NUMBER", "")
    result = runner("modem", "heartbeat", "--force")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Set modem.sms_number to a phone number")
    assert result.stderr.count("\n") == 1
    assert fake.received == []


def test_heartbeat_refused_by_the_modem_fails_and_is_logged(runner, fake: FakeModem) -> None:
    fake.sms_error = "+CMS ERROR: 500"
    result = runner("modem", "heartbeat", "--force")
    assert result.exit_code == 1
    assert result.stderr == "Error: The modem could not send the SMS: +CMS ERROR: 500\n"
    log = runner("modem", "sms-log").output
    assert f"test       {NUMBER}  failed: The modem could not send the SMS" in log


def test_sms_log_lists_sends_newest_first(runner, fake: FakeModem) -> None:
    runner("modem", "heartbeat", "--force")
    fake.sms_error = "+CMS ERROR: 38"
    runner("modem", "heartbeat", "--force")
    records = json.loads(runner("modem", "sms-log", "--json").output)
    assert [r["outcome"] for r in records] == ["failed", "sent"]


def test_sms_log_when_empty(runner, fake: FakeModem) -> None:
    assert runner("modem", "sms-log").output == "No SMS sent yet.\n"


def test_heartbeat_counts_the_events_waiting_for_sync(runner, fake, data_dir: Path) -> None:
    from tests.sync_support import add_events, make_site

    add_events(make_site(data_dir.parent, data_dir.name), 7)
    runner("modem", "heartbeat", "--force")
    assert "pending=7 lastsync=never" in fake.sent_sms[0][1]
