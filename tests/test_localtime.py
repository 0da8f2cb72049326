"""Issue 14 item 12: a site time zone; times shown and exported are local, storage is UTC."""

from __future__ import annotations

import pytest

from edge_server.base.errors import ConfigError
from edge_server.base.localtime import local_text, parse_utc
from edge_server.base.settings import SETTINGS, load_settings
from edge_server.learning import dashboard


def test_the_site_time_zone_is_phnom_penh_by_default(tmp_path):
    settings = load_settings(environ={}, overrides={"data_dir": tmp_path})
    assert settings["time_zone"] == "Asia/Phnom_Penh"


def test_an_unknown_time_zone_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="time_zone"):
        load_settings(environ={}, overrides={"data_dir": tmp_path, "time_zone": "Asia/Atlantis"})


@pytest.mark.parametrize(
    ("stored", "zone", "shown"),
    [
        ("2026-12-01T20:30:00.000+00:00", "Asia/Phnom_Penh", "2026-12-02 03:30"),
        ("2026-12-01T20:30:00Z", "Asia/Phnom_Penh", "2026-12-02 03:30"),
        ("2026-12-01 20:30:00", "Asia/Phnom_Penh", "2026-12-02 03:30"),  # naive: UTC
        ("2026-12-02T08:15:00+07:00", "UTC", "2026-12-02 01:15"),
        (0, "Asia/Phnom_Penh", "1970-01-01 07:00"),
    ],
)
def test_stored_times_are_shown_local(stored, zone, shown):
    assert local_text(stored, zone) == shown


def test_text_that_is_not_a_time_is_left_as_it_is():
    assert parse_utc("soon") is None
    assert local_text("soon", "Asia/Phnom_Penh") == "soon"
    assert local_text(None, "Asia/Phnom_Penh") == ""


def test_events_csv_names_its_zone():
    header = dashboard.event_columns("Asia/Phnom_Penh")
    assert "server_time (Asia/Phnom_Penh)" in header
    assert "client_time (Asia/Phnom_Penh)" in header
    assert not {"server_ts", "client_ts"} & set(header)
    assert any(s.name == "time_zone" for s in SETTINGS)


def test_due_dates_read_as_dates():
    from edge_server.base.localtime import date_words

    assert date_words("2026-12-20", "km") == "20 ធ្នូ 2026"  # the page makes digits Khmer
    assert date_words("2026-12-20", "en") == "20 Dec 2026"
    assert date_words("soon", "en") == "soon"


def test_a_date_is_past_by_the_sites_calendar():
    from datetime import UTC, datetime

    from edge_server.base.localtime import is_past

    # 18:00 UTC on 19 Dec is already 20 Dec in Phnom Penh: 19 Dec is past there, not in UTC.
    now = datetime(2026, 12, 19, 18, 0, tzinfo=UTC)
    assert is_past("2026-12-19", "Asia/Phnom_Penh", now)
    assert not is_past("2026-12-19", "UTC", now)
    assert not is_past("2026-12-20", "Asia/Phnom_Penh", now)
    assert not is_past("", "Asia/Phnom_Penh", now)
