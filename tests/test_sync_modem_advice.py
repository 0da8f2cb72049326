"""Issue 14 items 13-14: every sync state and every modem state has a sentence and a next step,
in Khmer too, and none of them asks a site admin to type a command."""

from __future__ import annotations

import pytest

from edge_server.web.i18n import load_catalog
from sync.edge import advice as sync_advice
from sync.modem import advice as modem_advice
from sync.modem.status import STATES

PROVISIONED = {
    "provisioned": True,
    "central_url": "https://central.example",
    "pending_events": 0,
    "quarantined_batches": 0,
    "last_error": None,
    "last_success_at": "2026-12-01T00:00:00+00:00",
    "bytes_today": 0,
    "budget_bytes": 1024,
}


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"provisioned": False}, "not_provisioned"),
        ({"last_error": "HTTP 502", "pending_events": 3}, "failing"),
        ({"pending_events": 3, "bytes_today": 2048}, "budget_used"),
        ({"last_success_at": None}, "never"),
        ({"pending_events": 3}, "waiting"),
        ({}, "up_to_date"),
    ],
)
def test_each_sync_state_has_a_sentence_and_a_next_step_in_khmer(changes, code):
    state = sync_advice.explain({**PROVISIONED, **changes})
    assert state.code == code
    khmer = load_catalog("km")
    for line in (state.sentence, state.next_step):
        assert "kru " not in line.text and "quarantin" not in line.text
        assert khmer.gettext(line.text) != line.text, line.text
        assert (line.text % line.values) if line.values else line.text


def test_batches_set_aside_are_explained_not_named_quarantined():
    state = sync_advice.explain({**PROVISIONED, "quarantined_batches": 2})
    assert state.set_aside is not None and state.set_aside.values == {"count": 2}
    assert "nothing is lost" in state.set_aside.text


@pytest.mark.parametrize("state", STATES)
def test_each_modem_state_says_what_to_do_in_khmer(state):
    line = modem_advice.advice({"state": state, "detail": "", "registration": None})
    assert line
    assert load_catalog("km").gettext(line) != line


@pytest.mark.parametrize(
    ("detail", "words"),
    [
        ("SIM not inserted", "No SIM card in the modem"),
        ("SIM PIN", "The SIM asks for its PIN"),
        ("SIM PUK required", "The SIM asks for its PUK code"),
        ("SIM failure", "The SIM cannot be read"),
    ],
)
def test_sim_details_are_said_in_words(detail, words):
    status = {"state": "sim_not_ready", "detail": detail}
    assert modem_advice.detail_words(status) == words
    assert load_catalog("km").gettext(words) != words


def test_a_refused_registration_says_to_call_the_operator():
    status = {"state": "not_registered", "registration": "denied", "detail": "registration: denied"}
    assert "Call the operator" in modem_advice.advice(status)
    assert modem_advice.detail_words(status) == "The network refused the SIM"
