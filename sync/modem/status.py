"""Cellular modem status: find the AT port, ask the modem, say what the link can do.

``modem_status(settings)`` returns one dict used alike by ``kru modem status --json``, the
site admin panel and the sync agent (``status_for_sync``). It never raises and its total
time is bounded: a silent modem costs one timeout, not one per command.

States (stable codes, documented in docs/modem.md): ``ok``, ``not_attached``,
``not_registered``, ``sim_not_ready``, ``no_answer``, ``not_a_modem``, ``port_busy``,
``no_modem``, ``disabled``.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from . import parse
from .at import AtClient, AtError, AtTimeout, ModemGone, PortBusy

log = logging.getLogger(__name__)

# Where USB dongles and HATs show up, most specific first: stable by-id names, then
# Qualcomm/Huawei USB serial ports and CDC-ACM ports.
SCAN_PATTERNS = ("/dev/serial/by-id/*", "/dev/ttyUSB*", "/dev/ttyACM*")
SCAN_LIMIT = 8  # ports tried at most in one scan
SCAN_TIMEOUT_S = 1.0  # per port: a modem answers AT within milliseconds
BUDGET_FACTOR = 4  # a full query takes at most this many modem.timeout_s
BUSY_WAIT_S = 2.0  # how long to wait for a port another Kru process is using

STATES = (
    "ok",
    "not_attached",
    "not_registered",
    "sim_not_ready",
    "no_answer",
    "not_a_modem",
    "port_busy",
    "no_modem",
    "disabled",
)

# English one-liners for the CLI and logs; the admin page translates them (modem.po).
MESSAGES = {
    "ok": "Registered on the network with packet data.",
    "not_attached": "Registered on the network, but packet data is not attached.",
    "not_registered": "The modem is not registered on a network.",
    "sim_not_ready": "The SIM card is not ready.",
    "no_answer": "The modem does not answer.",
    "not_a_modem": "The port answers, but not like a modem.",
    "port_busy": "Another program is using the modem port.",
    "no_modem": "No modem found.",
    "disabled": "The modem is turned off in the settings (modem.port = none).",
}

# Last port that answered in an auto scan, tried first next time (saves a scan per cycle).
_last_found: dict[str, str] = {}


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def empty_status(state: str, port: str | None = None, detail: str = "") -> dict[str, Any]:
    """Return a status dict in ``state`` with every field present and unknown."""
    return {
        "state": state,
        "message": MESSAGES[state],
        "detail": detail,
        "port": port,
        "registered": None,  # None: the modem did not say (silent, busy, not a modem)
        "registration": None,
        "signal_dbm": None,
        "bars": 0,
        "operator": None,
        "technology": None,
        "attached": None,
        "sim": None,
        "model": None,
        "checked_at": _now(),
    }


def candidate_ports(patterns: Iterable[str]) -> list[str]:
    """Return existing ports matching ``patterns``, deduplicated by the device they name."""
    seen: set[str] = set()
    ports: list[str] = []
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            ports.append(path)
    return ports[:SCAN_LIMIT]


def probe(port: str, baud: int, timeout: float = SCAN_TIMEOUT_S) -> bool:
    """Return whether ``port`` answers ``AT`` with ``OK`` (never raises)."""
    try:
        with AtClient(port, baud, timeout) as client:
            return client.command("AT", timeout=timeout).ok
    except AtError as exc:
        log.debug("probe %s: %s", port, exc)
        return False


def find_port(baud: int, patterns: Iterable[str] | None = None) -> str | None:
    """Return the first likely port (``SCAN_PATTERNS``) that answers ``AT``, or None."""
    patterns = tuple(SCAN_PATTERNS if patterns is None else patterns)
    key = "|".join(patterns)
    ports = candidate_ports(patterns)
    last = _last_found.get(key)
    if last in ports:
        ports.remove(last)
        ports.insert(0, last)
    for port in ports:
        if probe(port, baud):
            _last_found[key] = port
            log.info("modem found on %s", port)
            return port
    _last_found.pop(key, None)
    return None


def _sim_problem(response_error: str | None, sim: str | None) -> str | None:
    if response_error is not None:
        return parse.SIM_ERRORS.get(response_error.upper(), f"SIM error {response_error}")
    if sim != "READY":
        return sim or "SIM state unknown"
    return None


def query(client: AtClient, deadline: float) -> dict[str, Any]:
    """Ask an open modem for its status; return the status dict.

    Raises:
        AtTimeout: the modem stopped answering.
        ModemGone: the port vanished.
    """

    def ask(cmd: str, expect: str | None) -> Any:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AtTimeout(cmd, True, False)
        return client.command(cmd, expect, timeout=min(client.timeout, left))

    status = empty_status("ok", client.port)
    hello = ask("AT", None)
    if not hello.ok:
        # some modems answer ERROR to a bare AT while booting; it still is a modem
        log.info("modem on %s answered %s to AT", client.port, hello.final)
    ask("ATE0", None)  # no echo from here on (we tolerate it anyway)
    info = ask("ATI", None)
    if info.ok and info.lines:
        status["model"] = " ".join(info.lines)[:120]

    pin = ask("AT+CPIN?", "+CPIN:")
    status["sim"] = parse.sim(pin.prefixed("+CPIN:")) if pin.ok else None
    problem = _sim_problem(pin.error, status["sim"])
    if problem:
        status.update(state="sim_not_ready", message=MESSAGES["sim_not_ready"], detail=problem)
        status["registered"] = False  # no SIM, no network
        status["sim"] = status["sim"] or problem
        return status

    csq = ask("AT+CSQ", "+CSQ:")
    status["signal_dbm"], status["bars"] = parse.signal(csq.prefixed("+CSQ:"))

    creg = ask("AT+CREG?", "+CREG:")
    reg = parse.registration(creg.prefixed("+CREG:")) if creg.ok else None
    if not parse.is_registered(reg):
        # LTE-only modems register in EPS (CEREG) and may report CREG 0 or ERROR
        cereg = ask("AT+CEREG?", "+CEREG:")
        ereg = parse.registration(cereg.prefixed("+CEREG:")) if cereg.ok else None
        reg = ereg if parse.is_registered(ereg) or reg is None else reg
    status["registration"] = reg
    status["registered"] = parse.is_registered(reg)

    cops = ask("AT+COPS?", "+COPS:")
    status["operator"], status["technology"] = parse.operator(cops.prefixed("+COPS:"))

    cgatt = ask("AT+CGATT?", "+CGATT:")
    status["attached"] = parse.attached(cgatt.prefixed("+CGATT:")) if cgatt.ok else None

    if not status["registered"]:
        status.update(
            state="not_registered",
            message=MESSAGES["not_registered"],
            detail=f"registration: {reg or 'unknown'}",
        )
    elif status["attached"] is False:
        status.update(state="not_attached", message=MESSAGES["not_attached"])
    return status


def status_on_port(port: str, baud: int, timeout: float) -> dict[str, Any]:
    """Return the status of the modem on ``port`` (never raises)."""
    client = AtClient(port, baud, timeout)
    deadline = time.monotonic() + timeout * BUDGET_FACTOR
    try:
        client.open_when_free(min(timeout, BUSY_WAIT_S))
    except PortBusy as exc:
        return empty_status("port_busy", port, str(exc))
    except ModemGone as exc:
        return empty_status("no_modem", port, f"cannot open {port}: {exc}")
    try:
        return query(client, deadline)
    except AtTimeout as exc:
        if client.answers == 0 and (exc.heard or client.garbage_lines):
            return empty_status("not_a_modem", port, f"unreadable answer to {exc.command}")
        return empty_status("no_answer", port, f"no answer to {exc.command}")
    except ModemGone as exc:
        return empty_status("no_modem", port, f"the modem went away (unplugged?): {exc}")
    except AtError as exc:  # any other protocol trouble is reported, never raised
        return empty_status("no_answer", port, str(exc))
    finally:
        client.close()


def modem_status(settings: Mapping[str, Any], port: str | None = None) -> dict[str, Any]:
    """Return the modem status for ``settings`` (``port`` overrides ``modem.port``).

    Never raises: every problem is a state in the dict.
    """
    chosen = port or settings["modem.port"]
    baud, timeout = settings["modem.baud"], settings["modem.timeout_s"]
    try:
        if chosen == "none":
            return empty_status("disabled")
        if chosen == "auto":
            found = find_port(baud)
            if found is None:
                return empty_status("no_modem", None, "no port answered AT")
            chosen = found
        return status_on_port(chosen, baud, timeout)
    except Exception as exc:  # the server and the agent must never crash here
        log.exception("modem status failed")
        return empty_status("no_answer", chosen, f"unexpected error: {exc}")


def status_for_sync(settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the modem status for the sync agent, or None when disabled or absent.

    Never raises and takes at most a few seconds (``modem.timeout_s`` times a small factor,
    plus one second per scanned port when ``modem.port`` is ``auto``).
    """
    status = modem_status(settings)
    return None if status["state"] in {"disabled", "no_modem"} else status
