"""Central accounts, dashboard pages, CSV and the devices API (xAPI: test_central_xapi.py)."""

from __future__ import annotations

import time

import pytest

from sync.central import registry
from sync.central.db import database
from sync.central.ingest import ingest_batch
from tests.central_support import make_batch, sign_in
from tests.conftest import assert_api_error, csrf_token


@pytest.fixture
def device(central_app):
    return registry.add_device("TEC Takeo", "http://central.example", "Takeo").device


def test_session_api_signs_in_like_the_site(central_app):
    client = central_app.test_client()
    sign_in(client)
    body = client.get("/api/v1/session").get_json()
    assert body["user"]["username"] == "admin1"
    assert body["user"]["role"] == "admin"


def test_wrong_password_gets_the_error_shape(central_app):
    client = central_app.test_client()
    registry.add_user("admin1", "mekong-river-2026", "admin")
    response = client.post(
        "/api/v1/session",
        json={"username": "admin1", "password": "nope"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert_api_error(response, 401, "bad_credentials")


def test_dashboard_needs_a_sign_in(central_app):
    response = central_app.test_client().get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_devices_api_lists_counts_and_clock_offset(central_app, device):
    skew = 600_000
    batch = make_batch(device.device_id, count=5, clock_ms=int(time.time() * 1000) - skew)
    ingest_batch(database, device, batch)
    client = central_app.test_client()
    sign_in(client)
    rows = client.get("/api/v1/devices").get_json()["devices"]
    assert rows[0]["id"] == device.device_id
    assert rows[0]["name"] == "TEC Takeo"
    assert rows[0]["events_received"] == 5
    assert rows[0]["last_seen_at"]
    assert rows[0]["clock_offset_s"] == pytest.approx(600, abs=5)


def test_devices_api_is_for_admins_only(central_app, device):
    client = central_app.test_client()
    sign_in(client, "viewer")
    assert_api_error(client.get("/api/v1/devices"), 403, "forbidden")


def test_devices_api_without_sign_in_is_401(central_app):
    assert_api_error(central_app.test_client().get("/api/v1/devices"), 401, "unauthorized")


def test_dashboard_shows_sites_and_completion_charts(central_app, device):
    ingest_batch(database, device, make_batch(device.device_id, count=2))
    client = central_app.test_client()
    sign_in(client, "viewer")
    client.post("/language", data={"lang": "en", "csrf_token": csrf_token(client)})
    html = client.get("/").get_data(as_text=True)
    assert "TEC Takeo" in html
    assert "<svg" in html
    assert "50%" in html  # one of the course's two items completed


def test_site_page_drills_down_to_cohorts(central_app, device):
    from sync.protocol import CohortRecord

    batch = make_batch(device.device_id, count=2)
    batch.cohorts = [CohortRecord("c1", "Class 2026 A", ["u1"])]
    ingest_batch(database, device, batch)
    client = central_app.test_client()
    sign_in(client, "viewer")
    html = client.get(f"/sites/{device.device_id}").get_data(as_text=True)
    assert "Class 2026 A" in html


def test_completion_csv_has_one_row_per_site_and_course(central_app, device):
    ingest_batch(database, device, make_batch(device.device_id, count=2))
    client = central_app.test_client()
    sign_in(client, "viewer")
    response = client.get("/export/completion.csv")
    lines = response.get_data(as_text=True).lstrip("\ufeff").strip().splitlines()
    assert lines[0].startswith("device_id,site,province,course_key")
    assert lines[1].split(",")[:4] == [device.device_id, "TEC Takeo", "Takeo", "p/c"]
    assert lines[1].endswith(",50.0,,")  # no date range: from and to empty
