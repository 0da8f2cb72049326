"""Parse the answers of 3GPP TS 27.007 status commands (CSQ, CREG, CEREG, COPS, CGATT, CPIN)."""

from __future__ import annotations

import csv


def fields(value: str) -> list[str]:
    """Split ``0,1,"Smart",7`` into ``["0", "1", "Smart", "7"]`` (quotes honoured)."""
    try:
        return [f.strip() for f in next(csv.reader([value], skipinitialspace=True))]
    except (csv.Error, StopIteration):
        return []


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def signal(values: list[str]) -> tuple[int | None, int]:
    """Return (dBm or None, bars 0-5) from ``+CSQ: <rssi>,<ber>`` values.

    rssi 0..31 maps to -113..-51 dBm in steps of 2; 99 means not known. Bars follow the
    usual phone scale: -111 dBm or weaker 0, then one bar per 10 dB up to 5 at -71 or better.
    """
    for value in values:
        parts = fields(value)
        rssi = _int(parts[0]) if parts else None
        if rssi is None or not 0 <= rssi <= 31:
            continue
        dbm = -113 + 2 * rssi
        bars = 0 if dbm <= -111 else min(5, 1 + (dbm + 111) // 10)
        return dbm, bars
    return None, 0


REG_STATES = {
    0: "not_searching",
    1: "home",
    2: "searching",
    3: "denied",
    4: "unknown",
    5: "roaming",
    6: "home_sms_only",
    7: "roaming_sms_only",
    8: "emergency_only",
}


def registration(values: list[str]) -> str | None:
    """Return the registration state of a ``+CREG?``/``+CEREG?`` answer, or None.

    The solicited answer is ``<n>,<stat>[,<lac>,<ci>[,<AcT>]]``; an unsolicited ``+CREG``
    arriving in between is ``<stat>`` or ``<stat>,"<lac>","<ci>"`` (second field quoted or
    absent), so it is told apart and skipped. The last solicited line wins.
    """
    state = None
    for value in values:
        parts = fields(value)
        if len(parts) < 2 or '"' in value.split(",")[1]:
            continue  # an unsolicited code
        n, stat = _int(parts[0]), _int(parts[1])
        if n is None or stat is None or not 0 <= n <= 5:
            continue
        state = REG_STATES.get(stat, "unknown")
    return state


def is_registered(state: str | None) -> bool:
    """Return whether a registration state lets the modem carry traffic."""
    return state in {"home", "roaming", "home_sms_only", "roaming_sms_only"}


TECHNOLOGIES = {
    0: "2G",
    1: "2G",
    2: "3G",
    3: "2G",
    4: "3G",
    5: "3G",
    6: "3G",
    7: "4G",
    8: "2G",
    9: "4G",
    10: "4G",
    11: "5G",
    12: "5G",
    13: "4G",
}


def operator(values: list[str]) -> tuple[str | None, str | None]:
    """Return (operator, technology) from ``+COPS: <mode>[,<format>,<oper>[,<AcT>]]``."""
    for value in values:
        parts = fields(value)
        if len(parts) >= 3 and parts[2]:
            act = _int(parts[3]) if len(parts) >= 4 else None
            return parts[2], TECHNOLOGIES.get(act) if act is not None else None
    return None, None


def attached(values: list[str]) -> bool | None:
    """Return the packet-domain attach state of ``+CGATT: <state>``."""
    for value in values:
        state = _int(fields(value)[0]) if fields(value) else None
        if state in (0, 1):
            return state == 1
    return None


def sim(values: list[str]) -> str | None:
    """Return the SIM state of ``+CPIN: READY`` / ``SIM PIN`` / ``SIM PUK`` ..."""
    for value in values:
        if value:
            return value.strip().strip('"').upper()
    return None


# +CME ERROR codes that mean the SIM cannot be used (27.007 section 9.2.1).
SIM_ERRORS = {
    "10": "SIM not inserted",
    "11": "SIM PIN required",
    "12": "SIM PUK required",
    "13": "SIM failure",
    "14": "SIM busy",
    "15": "SIM wrong",
    "SIM NOT INSERTED": "SIM not inserted",
    "SIM FAILURE": "SIM failure",
    "SIM BUSY": "SIM busy",
}
