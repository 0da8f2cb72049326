"""The site page shows how many phones are on the Wi-Fi (a fake `iw` stands in for the radio)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edge_server.network import wifi

STATION = """Station 3a:11:22:33:44:{n:02x} (on wlan0)
\tinactive time:\t1200 ms
\tsignal:  \t-51 dBm
"""


@pytest.fixture
def fake_iw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Put an `iw` on PATH that reports ``count`` stations on wlan0 and fails for others."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def install(count: int) -> None:
        dump = bin_dir / "dump.txt"
        dump.write_text("".join(STATION.format(n=n) for n in range(count)))
        script = bin_dir / "iw"
        script.write_text(
            "#!/bin/sh\n"
            'if [ "$2" = wlan0 ]; then cat "' + str(dump) + '"; exit 0; fi\n'
            'echo "command failed: No such device (-19)" >&2; exit 237\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)

    return install


def test_counts_connected_stations(fake_iw):
    fake_iw(7)
    assert wifi.count_clients("wlan0") == 7


def test_missing_interface_is_unknown(fake_iw):
    fake_iw(3)
    assert wifi.count_clients("wlan9") is None


def test_no_iw_is_unknown(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(wifi.os, "access", lambda path, mode: False)
    assert wifi.count_clients("wlan0") is None


def admin_in_english(login_as) -> None:
    from edge_server import accounts

    accounts.update_user(login_as("admin"), language="en")


def test_site_page_shows_phone_count(client, login_as, fake_iw):
    fake_iw(4)
    admin_in_english(login_as)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="wifi"' in page
    assert "<dd>4</dd>" in page


def test_site_page_shows_khmer_digits_in_khmer(client, login_as, fake_iw):
    fake_iw(4)
    login_as("admin")
    page = client.get("/admin/").get_data(as_text=True)
    assert "<dd>៤</dd>" in page
    assert "ទូរស័ព្ទដែលបានភ្ជាប់" in page


def test_site_page_warns_when_builtin_wifi_is_crowded(client, login_as, fake_iw):
    fake_iw(wifi.BUILTIN_COMFORTABLE + 5)
    admin_in_english(login_as)
    page = client.get("/admin/").get_data(as_text=True)
    assert "external access point" in page


def test_site_page_does_not_warn_for_a_few_phones(client, login_as, fake_iw):
    fake_iw(3)
    admin_in_english(login_as)
    page = client.get("/admin/").get_data(as_text=True)
    assert "external access point" not in page


def test_site_page_says_unknown_without_hotspot(client, login_as, monkeypatch):
    monkeypatch.setattr(wifi, "count_clients", lambda interface: None)
    admin_in_english(login_as)
    page = client.get("/admin/").get_data(as_text=True)
    assert "Phones connected</dt>\n    <dd>unknown</dd>" in page
