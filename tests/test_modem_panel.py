"""The modem panel on the site admin page shows what ``kru modem status --json`` says."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest

from tests.fakemodem import FakeModem


@pytest.fixture
def fake() -> Iterator[FakeModem]:
    with FakeModem() as m:
        yield m


@pytest.fixture
def app_config(app_config: dict, fake: FakeModem) -> dict:
    return {**app_config, "modem.port": fake.port, "modem.timeout_s": 0.5}


def panel_html(client, login_as) -> str:
    login_as("admin")
    response = client.get("/admin/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    match = re.search(r'<section class="card modem".*?</section>', page, re.S)
    assert match, "the admin page has no modem panel"
    return html.unescape(match.group(0))


def field(panel: str, name: str) -> str:
    match = re.search(rf'class="modem-{name}">(.*?)</dd>', panel, re.S)
    assert match, name
    return " ".join(match.group(1).split())


@pytest.fixture
def english(app_config: dict) -> dict:
    app_config["default_language"] = "en"
    return app_config


def test_panel_shows_the_same_status_as_the_cli(english, client, login_as, runner) -> None:
    panel = panel_html(client, login_as)
    cli = json.loads(runner("modem", "status", "--json", "--port", english["modem.port"]).output)
    assert f'data-state="{cli["state"]}"' in panel
    assert f'data-bars="{cli["bars"]}"' in panel
    assert cli["message"] in panel
    assert field(panel, "signal") == f"{cli['signal_dbm']} dBm"
    assert field(panel, "operator") == f"{cli['operator']} ({cli['technology']})"
    assert field(panel, "port") == cli["port"]


def test_panel_draws_as_many_filled_bars_as_the_signal(english, client, login_as) -> None:
    panel = panel_html(client, login_as)
    assert panel.count('class="on"') == 4
    assert panel.count('class="off"') == 1


def test_panel_in_khmer_translates_the_state_and_digits(client, login_as) -> None:
    panel = panel_html(client, login_as)
    assert "ម៉ូដឹមទូរស័ព្ទចល័ត" in panel
    assert "បានចុះឈ្មោះលើបណ្ដាញ ហើយមានទិន្នន័យអ៊ីនធឺណិត។" in panel
    assert field(panel, "signal") == "-៧៣ dBm"


def test_panel_with_sim_missing_shows_the_reason(english, fake, client, login_as) -> None:
    fake.answers["AT+CPIN?"] = ([], "+CME ERROR: 10")
    panel = panel_html(client, login_as)
    assert 'data-state="sim_not_ready"' in panel
    assert "The SIM card is not ready." in panel
    assert field(panel, "detail") == "No SIM card in the modem"
    assert "What to do: Put a SIM card in the modem." in " ".join(
        re.sub("<[^>]+>", "", panel).split()
    )


@pytest.mark.timeout(20)
def test_silent_modem_still_renders_the_page(english, fake, client, login_as) -> None:
    fake.silent = {"*"}
    panel = panel_html(client, login_as)
    assert 'data-state="no_answer"' in panel
    assert "The modem does not answer." in panel


def test_unplugged_modem_shows_no_modem(english, fake, client, login_as) -> None:
    fake.unplug()
    panel = panel_html(client, login_as)
    assert 'data-state="no_modem"' in panel
    assert "No modem found." in panel


def test_panel_shows_the_last_sms(english, fake, client, login_as, app) -> None:
    from sync.modem.heartbeat import send_heartbeat

    settings = app.config["KRU"].replace(modem__sms_number="+85512345678")
    send_heartbeat(settings, {"device_id": "tec-1", "pending_events": 3})
    panel = panel_html(client, login_as)
    assert re.search(r"off; last SMS \d{4}-\d\d-\d\d \d\d:\d\d: sent", field(panel, "heartbeat"))


def test_panel_asks_the_modem_at_most_once_per_half_minute(english, client, login_as, fake) -> None:
    panel_html(client, login_as)
    asked = fake.received.count("AT+CSQ")
    panel_html(client, login_as)
    assert asked >= 1
    assert fake.received.count("AT+CSQ") == asked  # the second page used the remembered answer
