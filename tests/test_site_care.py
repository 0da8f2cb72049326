"""The Site page's power, clock and disk cards, and the disk reserve (issue 19, items 4-6)."""

from __future__ import annotations

import html
import sys
import time
from pathlib import Path

import pytest

from edge_server.base import diskspace
from edge_server.base.uploads import NotEnoughSpace, UploadStore
from edge_server.system import clock, power

from .conftest import csrf_token, form_csrf


@pytest.fixture
def pi(tmp_path: Path, app_config: dict) -> dict[str, Path]:
    """A Pi's files under tmp_path: the firmware flags, timesyncd's flag, the helper's log."""
    paths = {
        "flags": tmp_path / "get_throttled",
        "synced": tmp_path / "synchronized",
        "log": tmp_path / "helper.log",
    }
    script = tmp_path / "helper.py"
    script.write_text(
        "import sys\nopen(sys.argv[1], 'a').write(sys.argv[2] + '\\n')\n", encoding="utf-8"
    )
    app_config.update(
        {
            "system.throttled_file": str(paths["flags"]),
            "system.clock_synced_file": str(paths["synced"]),
            "system.helper": [sys.executable, str(script), str(paths["log"]), "{request}"],
            "system.sys_block": str(tmp_path / "no-sys-block"),
            "backup.usb_root": str(tmp_path / "media"),
        }
    )
    return paths


@pytest.fixture
def admin(login_as, client):
    user = login_as("admin")
    client.post("/language", data={"lang": "en", "csrf_token": csrf_token(client)})
    return user


def _card(page: str, card: str) -> str:
    start = page.index(f'id="{card}"')
    return page[start : page.index("</section>", start)]


@pytest.mark.parametrize(
    ("flags", "shown"),
    [
        ("throttled=0x50005\n", "did not get enough power"),
        ("50000\n", "did not get enough power"),  # under-voltage earlier since boot
        ("0x0\n", "The power supply is good."),
        ("0x80008\n", "got too hot"),
        ("not hex\n", "could not be read"),
    ],
)
def test_power_card_reads_the_firmware_flags(flags, shown, pi, app, client, admin):
    pi["flags"].write_text(flags)
    assert shown in _card(client.get("/admin/").get_data(as_text=True), "power")


def test_power_card_off_a_pi(pi, app, client, admin):
    page = client.get("/admin/").get_data(as_text=True)
    assert "This is not a Raspberry Pi" in _card(page, "power")


def test_power_flags_as_sync_reports_them(tmp_path):
    flags = tmp_path / "flags"
    flags.write_text("0x50005")
    found = power.read(flags)
    assert found["under_voltage_now"] and found["under_voltage_since_boot"]
    assert found["advice"] == "power_supply"
    assert "throttled" in found["found"]


def test_clock_offer_is_on_the_page_only_when_unsynchronised(pi, app, client, admin):
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="clock-offer"' in _card(page, "clock")
    pi["synced"].touch()
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="clock-offer"' not in _card(page, "clock")


def _set_clock(client, browser_ms: int) -> str:
    token = form_csrf(client.get("/admin/").get_data(as_text=True))
    response = client.post(
        "/admin/clock",
        data={"csrf_token": token, "browser_ms": str(browser_ms)},
        follow_redirects=True,
    )
    return html.unescape(response.get_data(as_text=True))


def test_admin_sets_the_clock_from_a_browser_ahead_of_the_pi(pi, app, client, admin):
    ahead = int((time.time() + 3600) * 1000)
    page = _set_clock(client, ahead)
    assert "The Pi's clock was set to this browser's time." in page
    assert pi["log"].read_text().split() == [f"clock-{ahead // 1000}"]


def test_setting_the_clock_starts_a_new_clock_epoch(pi, app, client, admin):
    from edge_server.learning import events

    before = events.boot_id()
    _set_clock(client, int((time.time() + 3600) * 1000))
    assert events.boot_id() == f"{before}+1"  # events after it are corrected apart


# The browser's time: now, an hour behind, past the year 2100, the epoch. Worked out in the
# test: parameters must be the same in every pytest-xdist worker's collection.
@pytest.mark.parametrize(
    "browser_ms",
    [
        pytest.param(lambda: int(time.time() * 1000), id="same"),
        pytest.param(lambda: int((time.time() - 3600) * 1000), id="behind"),
        pytest.param(lambda: 4_102_444_800_000 + 1, id="after-2100"),
        pytest.param(lambda: 0, id="zero"),
    ],
)
def test_a_browser_not_well_ahead_does_not_set_the_clock(browser_ms, pi, app, client, admin):
    page = _set_clock(client, browser_ms())
    assert "is not ahead of the Pi's" in page
    assert not pi["log"].exists()


def test_a_synchronised_clock_is_never_set_by_hand(pi, app, client, admin):
    pi["synced"].touch()
    page = _set_clock(client, int((time.time() + 3600) * 1000))
    assert "synchronised over the network" in page
    assert not pi["log"].exists()


def test_khmer_message_when_the_browser_is_behind(pi, app, client, admin):
    client.post("/language", data={"lang": "km", "csrf_token": csrf_token(client)})
    page = _set_clock(client, int(time.time() * 1000))
    assert "នាឡិការបស់កម្មវិធីរុករកនេះមិនលឿនជាងរបស់ Pi ទេ" in page


def test_learners_and_instructors_cannot_set_the_clock(pi, app, client, login_as):
    login_as("instructor")
    response = client.post(
        "/admin/clock",
        data={"csrf_token": csrf_token(client), "browser_ms": str(int(time.time() + 3600) * 1000)},
    )
    assert response.status_code == 403
    assert not pi["log"].exists()


def test_clock_offer_checks():
    settings = {"system.clock_synced_file": Path("/nonexistent/synchronized")}
    now = 1_800_000_000.0
    assert clock.check_offer(settings, now + 121, now=now) == int(now + 121)
    with pytest.raises(clock.ValidationError):
        clock.check_offer(settings, now + 119, now=now)


def test_disk_warning_on_the_site_page(pi, app_config, app, client, admin):
    app.config["KRU"] = app.config["KRU"].replace(disk__warn_mb=100_000_000)
    card = _card(client.get("/admin/").get_data(as_text=True), "disk")
    assert "The SD card is almost full" in card


def test_no_disk_warning_with_room(pi, app, client, admin):
    app.config["KRU"] = app.config["KRU"].replace(disk__warn_mb=0)
    card = _card(client.get("/admin/").get_data(as_text=True), "disk")
    assert "enough space" in card


@pytest.mark.parametrize(
    ("total_gb", "expected_mb"),
    [(8, 1024), (16, 1024), (32, int(32 * 1024 * 0.05)), (128, int(128 * 1024 * 0.05))],
)
def test_the_reserve_is_the_larger_of_1_gb_and_5_percent(total_gb, expected_mb):
    total = total_gb * 1024 * diskspace.MB
    assert diskspace.reserve_bytes(total, 1024, 5.0) // diskspace.MB == expected_mb


def test_an_upload_that_would_eat_the_reserve_is_refused(tmp_path):
    from edge_server.base.datahome import DataHome

    home = DataHome(tmp_path).ensure()
    free = diskspace.status(tmp_path)["free_bytes"]
    settings = {"disk.reserve_mb": free // diskspace.MB, "disk.reserve_percent": 0.0}
    with pytest.raises(NotEnoughSpace):
        UploadStore(home, settings=settings).create(1, "pack", 2 * diskspace.MB)
    relaxed = {"disk.reserve_mb": 0, "disk.reserve_percent": 0.0}
    assert UploadStore(home, settings=relaxed).create(1, "pack", 2 * diskspace.MB)
