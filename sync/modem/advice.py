"""What a person at the site should do about the modem's state, in words they can act on.

The admin page shows, under the modem's state, one "what to do" line (the table in
docs/modem.md, without shell commands) and the detail translated where Kru knows its words
(issue 14 item 14). Strings are marked with ``N_``; the page translates them (modem.po).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_server.base.errors import N_

ADVICE = {
    "ok": N_("Nothing to do: the site syncs through the modem."),
    "not_attached": N_(
        "Text messages still work. Ask the operator whether the SIM has a data plan and "
        "credit left."
    ),
    "no_answer": N_(
        "Unplug the modem and plug it in again. If it still does not answer, turn the Pi off "
        "and on."
    ),
    "not_a_modem": N_(
        "Kru is asking the wrong port of the modem: set modem.port to auto, or to another "
        "port, in the site's settings."
    ),
    "port_busy": N_(
        "Wait a minute: the sync agent may be using the modem. If this stays, another program "
        "(often ModemManager) holds the port and must be stopped."
    ),
    "no_modem": N_(
        "Plug the modem into the Pi. If it is plugged in and the site still syncs, it is a "
        "stick that works as a network card, and there is nothing to do."
    ),
    "disabled": N_("To use a modem, set modem.port to auto in the site's settings."),
}

REGISTRATION_ADVICE = {
    "searching": N_(
        "The modem is looking for a network: move the Pi or the modem's antenna to where a "
        "phone gets a signal."
    ),
    "denied": N_(
        "The network refused the SIM: it may be barred or not activated. Call the operator."
    ),
}
NOT_REGISTERED = N_(
    "The modem is not looking for a network: unplug it and plug it in again, then wait a minute."
)

SIM_ADVICE = {
    "missing": N_("Put a SIM card in the modem."),
    "pin": N_(
        "The SIM asks for a PIN: put it in a phone, turn the PIN off there, then put it back "
        "in the modem."
    ),
    "puk": N_("The SIM is locked: ask the operator for its PUK code or a new SIM."),
    "failure": N_("The SIM cannot be read: take it out and put it back, or try another SIM."),
}

SIM_DETAILS = {
    "missing": N_("No SIM card in the modem"),
    "pin": N_("The SIM asks for its PIN"),
    "puk": N_("The SIM asks for its PUK code"),
    "failure": N_("The SIM cannot be read"),
}

REGISTRATION_DETAILS = {
    "searching": N_("Looking for a network"),
    "denied": N_("The network refused the SIM"),
    "not_searching": N_("Not looking for a network"),
    "emergency_only": N_("Emergency calls only"),
    "unknown": N_("Registration unknown"),
}


def _sim_problem(detail: str) -> str:
    upper = detail.upper()
    if "PUK" in upper:
        return "puk"
    if "PIN" in upper:
        return "pin"
    if "NOT INSERTED" in upper:
        return "missing"
    return "failure"


def advice(status: Mapping[str, Any]) -> str:
    """Return the (untranslated) line saying what to do about ``status``'s state."""
    state = status.get("state", "")
    if state == "not_registered":
        return REGISTRATION_ADVICE.get(status.get("registration") or "", NOT_REGISTERED)
    if state == "sim_not_ready":
        return SIM_ADVICE[_sim_problem(status.get("detail") or "")]
    return ADVICE.get(state, "")


def detail_words(status: Mapping[str, Any]) -> str | None:
    """Return the (untranslated) words for ``status``'s detail when Kru knows them, else
    None (the page then shows the modem's own technical detail as it is)."""
    state = status.get("state", "")
    if state == "sim_not_ready":
        return SIM_DETAILS[_sim_problem(status.get("detail") or "")]
    if state == "not_registered":
        return REGISTRATION_DETAILS.get(status.get("registration") or "unknown")
    return None
