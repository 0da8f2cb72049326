"""The AT client against a fake modem on a pseudo-terminal, through real pyserial I/O."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import serial

from sync.modem.at import AtClient, AtTimeout, ModemGone, PortBusy
from tests.fakemodem import FakeModem


@pytest.fixture
def fake() -> Iterator[FakeModem]:
    with FakeModem() as modem:
        yield modem


@pytest.fixture
def client(fake: FakeModem) -> Iterator[AtClient]:
    with AtClient(fake.port, timeout=0.5) as at:
        yield at


def test_answer_lines_are_returned_without_the_echo(client: AtClient) -> None:
    response = client.command("AT+CSQ", "+CSQ:")
    assert response.ok
    assert response.lines == ["+CSQ: 20,99"]


def test_unsolicited_codes_inside_an_answer_are_set_aside(
    fake: FakeModem, client: AtClient
) -> None:
    fake.urcs_inside = ["RING", "^RSSI: 18", '+CMTI: "SM",3']
    response = client.command("AT+CSQ", "+CSQ:")
    assert response.lines == ["+CSQ: 20,99"]
    assert {"RING", "^RSSI: 18", '+CMTI: "SM",3'} <= set(client.urcs)


def test_unsolicited_codes_before_a_command_are_drained(fake: FakeModem, client: AtClient) -> None:
    fake.push("^MODE: 5,4")
    fake.push("+CEREG: 1")
    response = client.command("AT+CGATT?", "+CGATT:")
    assert response.lines == ["+CGATT: 1"]


def test_cme_error_gives_its_code(fake: FakeModem, client: AtClient) -> None:
    fake.answers["AT+CPIN?"] = ([], "+CME ERROR: 10")
    response = client.command("AT+CPIN?", "+CPIN:")
    assert not response.ok
    assert response.error == "10"


def test_unknown_command_answers_error(client: AtClient) -> None:
    response = client.command("AT+NOPE")
    assert response.error == "ERROR"


@pytest.mark.timeout(10)
def test_silence_raises_timeout_instead_of_hanging(fake: FakeModem, client: AtClient) -> None:
    fake.silent = {"AT+COPS?"}
    with pytest.raises(AtTimeout) as caught:
        client.command("AT+COPS?", "+COPS:", timeout=0.3)
    assert caught.value.heard is False


def test_slow_answer_within_the_timeout_is_read(fake: FakeModem, client: AtClient) -> None:
    fake.delay_s = 0.2
    assert client.command("AT+CSQ", "+CSQ:", timeout=2).lines == ["+CSQ: 20,99"]


def test_garbage_bytes_are_dropped_and_counted(fake: FakeModem, client: AtClient) -> None:
    fake.push("\x00\xff\xfe\x01\x02\x03")
    response = client.command("AT+CSQ", "+CSQ:")
    assert response.lines == ["+CSQ: 20,99"]
    assert client.garbage_lines >= 1


@pytest.mark.timeout(10)
def test_device_vanishing_mid_command_raises_modem_gone(fake: FakeModem, client: AtClient) -> None:
    fake.hangup_on = "AT+COPS?"
    with pytest.raises(ModemGone):
        client.command("AT+COPS?", "+COPS:")


def test_missing_port_raises_modem_gone(tmp_path) -> None:
    with pytest.raises(ModemGone):
        AtClient(str(tmp_path / "ttyUSB9")).open()


def test_port_held_by_another_program_raises_port_busy(fake: FakeModem) -> None:
    with serial.Serial(fake.port, exclusive=True):
        with pytest.raises(PortBusy):
            AtClient(fake.port).open()


def test_sms_prompt_is_answered_with_the_text(fake: FakeModem, client: AtClient) -> None:
    response = client.command('AT+CMGS="+85512345678"', "+CMGS:", payload="hello")
    assert response.prefixed("+CMGS:") == ["1"]
    assert fake.sent_sms == [("+85512345678", "hello")]
