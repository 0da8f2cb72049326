"""Modem status from a fake SIM7600 / Huawei modem on a pty: every state, never a crash."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from sync.modem import status as modem
from sync.modem.status import find_port, modem_status, status_for_sync
from tests.fakemodem import HUAWEI_E3372, FakeModem, modem_settings


@pytest.fixture
def fake() -> Iterator[FakeModem]:
    with FakeModem() as m:
        yield m


def status_of(fake: FakeModem, **overrides: object) -> dict:
    return modem_status(modem_settings(fake.port, **overrides))


def test_registered_sim7600_reports_signal_operator_and_technology(fake: FakeModem) -> None:
    status = status_of(fake)
    assert status["state"] == "ok"
    assert status["registered"] is True
    assert (status["signal_dbm"], status["bars"]) == (-73, 4)
    assert (status["operator"], status["technology"]) == ("Smart", "4G")
    assert status["attached"] is True
    assert "SIM7600" in status["model"]


def test_huawei_stick_with_its_unsolicited_codes_reads_the_same(fake: FakeModem) -> None:
    fake.answers = dict(HUAWEI_E3372)
    fake.urcs_inside = ["^RSSI: 14", "^MODE: 5,4", "+CREG: 1", '^HCSQ: "WCDMA",30,30,58']
    fake.urcs_before = ["^BOOT: 1234,0,0,0,6"]
    status = status_of(fake)
    assert status["state"] == "ok"
    assert (status["operator"], status["technology"], status["bars"]) == ("Cellcard", "3G", 3)


def test_unsolicited_creg_inside_the_answer_does_not_change_registration(fake: FakeModem) -> None:
    fake.answers["AT+CREG?"] = (["+CREG: 0,2"], "OK")
    fake.answers["AT+CEREG?"] = (["+CEREG: 0,2"], "OK")
    fake.urcs_inside = ["+CREG: 1", '+CREG: 1,"00A1","0B3C"']
    status = status_of(fake)
    assert (status["state"], status["registration"]) == ("not_registered", "searching")


@pytest.mark.parametrize(
    ("answer", "sim"),
    [((["+CPIN: SIM PIN"], "OK"), "SIM PIN"), (([], "+CME ERROR: 10"), "SIM not inserted")],
)
def test_sim_not_ready_says_why(fake: FakeModem, answer: tuple, sim: str) -> None:
    fake.answers["AT+CPIN?"] = answer
    status = status_of(fake)
    assert status["state"] == "sim_not_ready"
    assert status["sim"] == sim


def test_lte_only_modem_registered_in_eps_counts_as_registered(fake: FakeModem) -> None:
    fake.answers["AT+CREG?"] = ([], "ERROR")
    fake.answers["AT+CEREG?"] = (["+CEREG: 0,5"], "OK")
    status = status_of(fake)
    assert (status["state"], status["registration"]) == ("ok", "roaming")


def test_registration_denied_is_not_registered(fake: FakeModem) -> None:
    fake.answers["AT+CREG?"] = (["+CREG: 0,3"], "OK")
    fake.answers["AT+CEREG?"] = (["+CEREG: 0,3"], "OK")
    status = status_of(fake)
    assert (status["state"], status["registered"], status["registration"]) == (
        "not_registered",
        False,
        "denied",
    )


def test_registered_without_packet_data_is_not_attached(fake: FakeModem) -> None:
    fake.answers["AT+CGATT?"] = (["+CGATT: 0"], "OK")
    status = status_of(fake)
    assert (status["state"], status["registered"], status["attached"]) == (
        "not_attached",
        True,
        False,
    )


def test_unknown_signal_shows_zero_bars(fake: FakeModem) -> None:
    fake.answers["AT+CSQ"] = (["+CSQ: 99,99"], "OK")
    status = status_of(fake)
    assert (status["signal_dbm"], status["bars"]) == (None, 0)


@pytest.mark.timeout(15)
def test_silent_modem_is_no_answer(fake: FakeModem) -> None:
    fake.silent = {"*"}
    assert status_of(fake)["state"] == "no_answer"


@pytest.mark.timeout(15)
def test_modem_going_silent_mid_query_is_no_answer(fake: FakeModem) -> None:
    fake.silent = {"AT+COPS?"}
    status = status_of(fake)
    assert status["state"] == "no_answer"
    assert "AT+COPS?" in status["detail"]


@pytest.mark.timeout(15)
def test_slow_modem_beyond_the_total_budget_is_no_answer(fake: FakeModem) -> None:
    # each answer comes within modem.timeout_s, but eight of them exceed the bounded total
    fake.delay_s = 0.4
    assert status_of(fake, modem__timeout_s=0.5)["state"] == "no_answer"


@pytest.mark.timeout(15)
def test_port_sending_garbage_is_not_a_modem(fake: FakeModem) -> None:
    fake.garbage = b"\x00\xff\x13\x80\xfe\xfd\r\n\x81\x82\x83\r\n"
    assert status_of(fake)["state"] == "not_a_modem"


@pytest.mark.timeout(15)
def test_port_talking_something_else_is_not_a_modem(fake: FakeModem) -> None:
    # a GPS receiver on the same kind of port answers with NMEA sentences
    fake.garbage = (
        b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
        b"$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39\r\n"
    )
    assert status_of(fake)["state"] == "not_a_modem"


@pytest.mark.timeout(15)
def test_unplugged_mid_query_is_no_modem(fake: FakeModem) -> None:
    fake.hangup_on = "AT+CSQ"
    status = status_of(fake)
    assert status["state"] == "no_modem"
    assert "unplugged" in status["detail"]


def test_configured_port_that_does_not_exist_is_no_modem(tmp_path: Path) -> None:
    status = modem_status(modem_settings(str(tmp_path / "ttyUSB2")))
    assert status["state"] == "no_modem"
    assert "ttyUSB2" in status["detail"]


def test_port_held_by_another_program_is_port_busy(fake: FakeModem) -> None:
    with serial.Serial(fake.port, exclusive=True):
        assert status_of(fake)["state"] == "port_busy"


def test_port_held_briefly_by_another_kru_process_is_waited_for(fake: FakeModem) -> None:
    held = serial.Serial(fake.port, exclusive=True)
    releaser = threading.Timer(0.2, held.close)
    releaser.start()
    try:
        assert status_of(fake, modem__timeout_s=1.0)["state"] == "ok"
    finally:
        releaser.join()
        held.close()


@pytest.mark.timeout(15)
@pytest.mark.parametrize("behaviour", [{"silent": {"*"}}, {"garbage": b"\xff\xfe\r\n"}])
def test_unknown_registration_is_none_so_sync_still_tries(behaviour: dict) -> None:
    with FakeModem(**behaviour) as fake:
        status = status_for_sync(modem_settings(fake.port))
    assert status is not None
    assert status["registered"] is None


def test_port_none_is_disabled() -> None:
    assert modem_status(modem_settings("none"))["state"] == "disabled"


def test_every_status_has_the_same_keys(fake: FakeModem, tmp_path: Path) -> None:
    ok = status_of(fake)
    missing = modem_status(modem_settings(str(tmp_path / "nothing")))
    assert set(ok) == set(missing)
    assert ok["state"] in modem.STATES and missing["state"] in modem.STATES


def test_status_for_sync_is_none_when_disabled() -> None:
    assert status_for_sync(modem_settings("none")) is None


def test_status_for_sync_is_none_when_the_modem_is_absent(tmp_path: Path) -> None:
    assert status_for_sync(modem_settings(str(tmp_path / "ttyUSB2"))) is None


def test_status_for_sync_says_not_registered(fake: FakeModem) -> None:
    fake.answers["AT+CREG?"] = (["+CREG: 0,0"], "OK")
    fake.answers["AT+CEREG?"] = (["+CEREG: 0,0"], "OK")
    status = status_for_sync(modem_settings(fake.port))
    assert status is not None
    assert (status["registered"], status["state"]) == (False, "not_registered")


def _link(directory: Path, name: str, target: str) -> None:
    os.symlink(target, directory / name)


@pytest.mark.timeout(20)
def test_auto_scan_picks_the_port_that_answers_at(tmp_path: Path) -> None:
    with (
        FakeModem(silent={"*"}) as diag,
        FakeModem(garbage=b"\xff\xfe\r\n") as gps,
        FakeModem() as at,
    ):
        _link(tmp_path, "ttyUSB0", diag.port)
        _link(tmp_path, "ttyUSB1", gps.port)
        _link(tmp_path, "ttyUSB2", at.port)
        assert find_port(115200, [str(tmp_path / "ttyUSB*")]) == str(tmp_path / "ttyUSB2")


@pytest.mark.timeout(20)
def test_auto_setting_scans_likely_ports(
    tmp_path: Path, fake: FakeModem, monkeypatch: pytest.MonkeyPatch
) -> None:
    _link(tmp_path, "ttyACM0", fake.port)
    monkeypatch.setattr(modem, "SCAN_PATTERNS", (str(tmp_path / "ttyACM*"),))
    status = modem_status(modem_settings("auto"))
    assert (status["state"], status["port"]) == ("ok", str(tmp_path / "ttyACM0"))


def test_auto_setting_without_any_port_is_no_modem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modem, "SCAN_PATTERNS", (str(tmp_path / "ttyUSB*"),))
    assert modem_status(modem_settings("auto"))["state"] == "no_modem"


@pytest.mark.timeout(15)
def test_status_recovers_after_the_modem_speaks_again(fake: FakeModem) -> None:
    fake.silent = {"*"}
    assert status_of(fake)["state"] == "no_answer"
    fake.silent = set()
    assert status_of(fake)["state"] == "ok"
