"""An AT command client over pyserial that never hangs its caller.

Every read has a timeout and every command a deadline. Lines a modem sends on its own
(unsolicited result codes such as ``RING``, ``+CMTI``, ``^RSSI``, ``+CREG: 1``) are set
aside, garbage bytes are dropped, and a port that vanishes mid-command (USB dongle pulled
out) becomes ``ModemGone`` rather than an OSError deep in the caller.
"""

from __future__ import annotations

import logging
import re
import termios
import time
from dataclasses import dataclass, field

import serial

log = logging.getLogger(__name__)

# Final result codes of 3GPP TS 27.007 / V.250 (numeric ATV0 forms are not used: ATE0 V1).
FINAL_OK = {"OK"}
FINAL_ERROR = {"ERROR", "NO CARRIER", "NO DIALTONE", "BUSY", "NO ANSWER", "COMMAND NOT SUPPORT"}
_CME = re.compile(r"^\+(CME|CMS) ERROR:\s*(.+)$")

# Lines modems send unprompted. Huawei sticks use ^-prefixed codes; SIM7600 and Quectel
# send +CPIN/+CREG/+CEREG changes, SMS and call notices, and boot banners.
URC_PREFIXES = (
    "RING",
    "+CRING",
    "+CLIP",
    "+CMTI",
    "+CMT:",
    "+CDSI",
    "+CBM",
    "+CREG",
    "+CGREG",
    "+CEREG",
    "+CGEV",
    "+CUSD",
    "+CPIN",
    "+CSQN",
    "+QIND",
    "+QUSIM",
    "+CTZV",
    "*PSUTTZ",
    "DST:",
    "SMS DONE",
    "PB DONE",
    "RDY",
    "^RSSI",
    "^HCSQ",
    "^MODE",
    "^BOOT",
    "^SRVST",
    "^SIMST",
    "^SYSSTART",
    "^CEND",
    "^ORIG",
    "^CONN",
    "^DSFLOWRPT",
    "^STIN",
    "^NWTIME",
)

READ_SLICE_S = 0.05  # one blocking read; short so deadlines are kept to a few tens of ms
MAX_LINE = 512  # a modem line longer than this is garbage (or the port is not a modem)


class AtError(Exception):
    """Base of the AT client's errors."""


class ModemGone(AtError):
    """The port vanished or failed while in use (unplugged, permissions, I/O error)."""


class PortBusy(AtError):
    """Another program holds the port (ModemManager, a second Kru process)."""


class AtTimeout(AtError):
    """No final result code before the deadline; ``heard`` tells whether any byte came."""

    def __init__(self, command: str, heard: bool, garbage: bool) -> None:
        super().__init__(f"no answer to {command}")
        self.command = command
        self.heard = heard
        self.garbage = garbage


@dataclass
class AtResponse:
    """The answer to one command: information lines and the final result code."""

    command: str
    lines: list[str] = field(default_factory=list)
    final: str = ""
    error: str | None = None  # "ERROR", or the n of "+CME ERROR: n"

    @property
    def ok(self) -> bool:
        return self.final in FINAL_OK

    def prefixed(self, prefix: str) -> list[str]:
        """Return the values of lines starting with ``prefix`` (``"+CSQ:"``), stripped."""
        return [ln[len(prefix) :].strip() for ln in self.lines if ln.startswith(prefix)]


def _printable(raw: bytes) -> str | None:
    """Return the line as text, or None when it is mostly binary garbage."""
    text = raw.decode("utf-8", errors="replace")
    bad = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch != "\t"))
    if bad * 4 > len(text):
        return None
    return "".join(ch for ch in text if ch.isprintable()).strip()


class AtClient:
    """Talk AT commands to one serial port; use as a context manager so the port closes."""

    def __init__(self, port: str, baud: int = 115200, timeout: float = 3.0) -> None:
        self.port = port
        self.baud = baud
        self.timeout = timeout
        self.urcs: list[str] = []
        self.garbage_lines = 0
        self.answers = 0  # final result codes received: 0 means it never spoke AT
        self._buf = bytearray()
        self._serial: serial.Serial | None = None

    # --- opening and closing
    def open(self) -> AtClient:
        """Open the port exclusively.

        Raises:
            ModemGone: the port does not exist or cannot be opened.
            PortBusy: another program holds the port.
        """
        try:
            self._serial = serial.Serial(
                self.port,
                self.baud,
                timeout=READ_SLICE_S,
                write_timeout=self.timeout,
                exclusive=True,
            )
        except serial.SerialException as exc:
            if "exclusively lock" in str(exc) or "busy" in str(exc).lower():
                raise PortBusy(str(exc)) from exc
            raise ModemGone(str(exc)) from exc
        except (OSError, ValueError) as exc:
            raise ModemGone(str(exc)) from exc
        return self

    def open_when_free(self, wait_s: float) -> AtClient:
        """Open the port, waiting up to ``wait_s`` while another program holds it.

        Raises:
            ModemGone: the port does not exist or cannot be opened.
            PortBusy: the port was still held after ``wait_s``.
        """
        until = time.monotonic() + wait_s
        while True:
            try:
                return self.open()
            except PortBusy:
                # the admin page and the sync agent may ask at the same moment; one waits
                if time.monotonic() >= until:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        """Close the port (never raises)."""
        if self._serial is not None:
            try:
                self._serial.close()
            except (OSError, serial.SerialException, termios.error):
                pass
            self._serial = None

    def __enter__(self) -> AtClient:
        return self if self._serial is not None else self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- low-level I/O
    def _write(self, data: bytes) -> None:
        assert self._serial is not None, "open() first"
        try:
            self._serial.write(data)
            self._serial.flush()
        except serial.SerialTimeoutException as exc:
            raise AtTimeout(data.decode("ascii", "replace").strip(), False, False) from exc
        except (OSError, serial.SerialException, termios.error) as exc:
            # tcdrain on a vanished USB device raises termios.error, not OSError
            raise ModemGone(f"write failed: {exc}") from exc

    def _read_some(self) -> bytes:
        assert self._serial is not None, "open() first"
        try:
            waiting = self._serial.in_waiting
            return self._serial.read(waiting or 1)
        except (OSError, serial.SerialException, termios.error, TypeError) as exc:
            # pyserial raises TypeError when the fd was closed under it by a vanished device
            raise ModemGone(f"read failed: {exc}") from exc

    def _next_line(self, deadline: float, prompt: bool = False) -> str | None:
        """Return the next non-empty text line (or ``">"`` for an SMS prompt), None at deadline."""
        while True:
            while True:
                match = re.search(rb"[\r\n]", self._buf)
                if prompt and self._buf.lstrip(b"\r\n").startswith(b">"):
                    self._buf.clear()
                    return ">"
                if match is None:
                    if len(self._buf) > MAX_LINE:
                        self._buf.clear()
                        self.garbage_lines += 1
                    break
                raw = bytes(self._buf[: match.start()])
                del self._buf[: match.end()]
                if not raw.strip():
                    continue
                text = _printable(raw)
                if text is None or len(raw) > MAX_LINE:
                    self.garbage_lines += 1
                    continue
                if text:
                    return text
            if time.monotonic() >= deadline:
                return None
            self._buf += self._read_some()

    def drain(self, quiet_s: float = 0.05) -> None:
        """Read and set aside whatever the modem sent before our command."""
        deadline = time.monotonic() + quiet_s
        while (line := self._next_line(deadline)) is not None:
            self.urcs.append(line)

    # --- commands
    def command(
        self,
        cmd: str,
        expect: str | None = None,
        timeout: float | None = None,
        payload: str | None = None,
    ) -> AtResponse:
        """Send ``cmd`` and return its answer, collecting lines starting with ``expect``.

        Without ``expect`` every non-URC information line is kept (``ATI``). With
        ``payload`` the command is expected to prompt with ``>`` (``AT+CMGS``); the payload
        is then sent followed by Ctrl-Z.

        Raises:
            AtTimeout: no final result code before ``timeout`` (default: the client's).
            ModemGone: the port vanished.
        """
        self.drain(0.0)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._write(cmd.encode("ascii") + b"\r")
        response = AtResponse(cmd)
        heard = False
        garbage_before = self.garbage_lines
        waiting_prompt = payload is not None
        while True:
            line = self._next_line(deadline, prompt=waiting_prompt)
            if line is None:
                raise AtTimeout(cmd, heard, self.garbage_lines > garbage_before)
            if line == ">" and waiting_prompt and payload is not None:
                waiting_prompt = False
                self._write(payload.encode("ascii", "replace") + b"\x1a")
                continue
            if line.upper() == cmd.upper():
                continue  # echo (ATE1, the factory default)
            heard = True
            cme = _CME.match(line)
            if line in FINAL_OK or line in FINAL_ERROR or cme:
                self.answers += 1
                response.final = line
                if line not in FINAL_OK:
                    response.error = cme.group(2).strip() if cme else line
                return response
            if expect is not None and line.startswith(expect):
                response.lines.append(line)
            elif expect is None and not line.startswith(URC_PREFIXES):
                response.lines.append(line)
            elif line.startswith(URC_PREFIXES):
                log.debug("unsolicited %r during %s", line, cmd)
                self.urcs.append(line)
            else:
                self.garbage_lines += 1
