"""A fake cellular modem on a pseudo-terminal, answering AT commands like a real one.

The test opens ``modem.port`` with pyserial exactly as Kru opens ``/dev/ttyUSB2``; a thread
on the master side reads commands and writes answers with the framing of a SIM7600 or a
Huawei stick (echo, ``\\r\\n`` around lines, ``> `` prompt for SMS). Behaviours are plain
attributes a test changes before or during use:

- ``answers``: command -> (information lines, final result code)
- ``urcs_before`` / ``urcs_inside``: unsolicited lines sent before an answer / inside it
- ``delay_s``: seconds before each answer (slow modem)
- ``silent``: commands that get no answer at all (set ``"*"`` for a dead modem)
- ``garbage``: bytes sent instead of every answer (a port that is not a modem)
- ``hangup_on``: a command on which the device vanishes (USB unplugged mid-command)
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from dataclasses import dataclass, field

SIM7600 = {
    "AT": ([], "OK"),
    "ATE0": ([], "OK"),
    "ATE1": ([], "OK"),
    "ATI": (["Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600E-H"], "OK"),
    "AT+CPIN?": (["+CPIN: READY"], "OK"),
    "AT+CSQ": (["+CSQ: 20,99"], "OK"),
    "AT+CREG?": (["+CREG: 0,1"], "OK"),
    "AT+CEREG?": (["+CEREG: 0,1"], "OK"),
    "AT+COPS?": (['+COPS: 0,0,"Smart",7'], "OK"),
    "AT+CGATT?": (["+CGATT: 1"], "OK"),
    "AT+CMGF=1": ([], "OK"),
}

HUAWEI_E3372 = {
    **SIM7600,
    "ATI": (["Manufacturer: huawei", "Model: E3372", "Revision: 22.315.01.00.00"], "OK"),
    "AT+CSQ": (["+CSQ: 14,99"], "OK"),
    "AT+COPS?": (['+COPS: 0,0,"Cellcard",2'], "OK"),
}


@dataclass
class FakeModem:
    answers: dict[str, tuple[list[str], str]] = field(default_factory=lambda: dict(SIM7600))
    echo: bool = True
    urcs_before: list[str] = field(default_factory=list)
    urcs_inside: list[str] = field(default_factory=list)
    delay_s: float = 0.0
    silent: set[str] = field(default_factory=set)
    garbage: bytes | None = None
    hangup_on: str | None = None
    sms_error: str | None = None  # e.g. "+CMS ERROR: 500"
    received: list[str] = field(default_factory=list)
    sent_sms: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._master_open = True
        self._sms_to: str | None = None
        self._sms_ref = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    # --- test helpers
    def push(self, line: str) -> None:
        """Send an unsolicited line now."""
        self._send(f"\r\n{line}\r\n".encode())

    def unplug(self) -> None:
        """Make the device vanish: the master side closes, reads on the port fail."""
        with self._lock:
            if self._master_open:
                os.close(self._master)
                self._master_open = False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.unplug()
        os.close(self._slave)

    def __enter__(self) -> FakeModem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the device
    def _send(self, data: bytes) -> None:
        with self._lock:
            if self._master_open:
                try:
                    os.write(self._master, data)
                except OSError:
                    pass

    def _run(self) -> None:
        buf = bytearray()
        while not self._stop.is_set():
            with self._lock:
                if not self._master_open:
                    return
                fd = self._master
            try:
                ready, _, _ = select.select([fd], [], [], 0.02)
                if not ready:
                    continue
                data = os.read(fd, 1024)
            except (OSError, ValueError):
                return
            buf += data
            while True:
                if self._sms_to is not None:
                    end = buf.find(b"\x1a")
                    if end < 0:
                        break
                    text = buf[:end].decode(errors="replace")
                    del buf[: end + 1]
                    self._finish_sms(text)
                    continue
                end = buf.find(b"\r")
                if end < 0:
                    break
                line = buf[:end].decode(errors="replace").strip()
                del buf[: end + 1]
                if line:
                    self._answer(line)

    def _answer(self, cmd: str) -> None:
        self.received.append(cmd)
        upper = cmd.upper()
        if self.echo:
            self._send(cmd.encode() + b"\r")
        if self.hangup_on is not None and upper == self.hangup_on:
            self.unplug()
            return
        if self.garbage is not None:
            self._send(self.garbage)
            return
        if "*" in self.silent or upper in self.silent:
            return
        if self.delay_s:
            time.sleep(self.delay_s)
        for urc in self.urcs_before:
            self.push(urc)
        if upper == "ATE0":
            self.echo = False
        elif upper == "ATE1":
            self.echo = True
        if upper.startswith("AT+CMGS="):
            self._sms_to = cmd.split("=", 1)[1].strip('"')
            self._send(b"\r\n> ")
            return
        lines, final = self.answers.get(upper, ([], "ERROR"))
        out = b""
        for i, line in enumerate(lines):
            out += f"\r\n{line}\r\n".encode()
            if i == 0:
                out += b"".join(f"\r\n{u}\r\n".encode() for u in self.urcs_inside)
        if not lines:
            out += b"".join(f"\r\n{u}\r\n".encode() for u in self.urcs_inside)
        self._send(out + f"\r\n{final}\r\n".encode())

    def _finish_sms(self, text: str) -> None:
        to, self._sms_to = self._sms_to, None
        if self.echo:
            self._send(text.encode())
        if self.sms_error:
            self._send(f"\r\n{self.sms_error}\r\n".encode())
            return
        self._sms_ref += 1
        self.sent_sms.append((to or "", text))
        self._send(f"\r\n+CMGS: {self._sms_ref}\r\n\r\nOK\r\n".encode())


def modem_settings(port: str, **overrides: object):  # edge_server Settings
    """Return real Kru settings pointing at ``port`` (names with ``__`` for dots)."""
    from edge_server.base.settings import load_settings

    base = {"modem.port": port, "modem.timeout_s": 0.5}
    base.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_settings(environ={}, overrides=base)
