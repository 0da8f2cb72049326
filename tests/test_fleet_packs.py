"""Packs sent by central (issue 20, items 1-2), with a real central server and real sites.

Central keeps a library of signed packs and assigns them; at sync the site downloads only the
files it lacks, resumably (a download cut at about 50 % continues with HTTP Range), within its
download budget and window, verifies and installs them, and reports what it has.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from content_packs.models import Pack
from edge_server.site.database import open_site
from sync.edge import downloads
from sync.edge.agent import sync_once as agent_sync_once
from tests.fleet_support import CountingProxy, random_files, signed_pack, signing_key
from tests.packs_factory import build_pack
from tests.sync_support import CentralServer, make_site

MB = 1024 * 1024


def sync_once(settings):
    """One pass of the sync agent on the site in ``settings`` (opened the one way)."""
    home, db = open_site(settings)
    try:
        return agent_sync_once(settings, home, db)
    finally:
        db.close()


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, str]:
    return signing_key(tmp_path)


@pytest.fixture
def central(tmp_path: Path, key):
    server = CentralServer(tmp_path / "central")
    server.env["KRU_PACKS_TRUSTED_KEYS"] = key[1]
    server.start()
    yield server
    server.stop()


def _site_settings(site, url: str, key: str, **more):
    return site.settings.replace(
        sync__central_url=url, packs__trusted_keys=[key], packs__allow_unsigned=False, **more
    )


def _installed(site) -> dict[str, str]:
    db = site.open()
    try:
        return {p.pack_id: p.version for p in Pack.select()}
    finally:
        db.close()


def _status(central: CentralServer) -> list[list[str]]:
    out = central.cli("pack", "status").stdout
    return [line.split("\t") for line in out.splitlines()]


def test_library_refuses_bad_packs_and_bad_assignments(tmp_path: Path, key) -> None:
    central = CentralServer(tmp_path / "central")
    central.env["KRU_PACKS_TRUSTED_KEYS"] = key[1]
    unsigned = build_pack(tmp_path, "fleet-pack", "1.0.0")
    bad = central.cli("pack", "add", str(unsigned), check=False)
    assert bad.returncode == 1 and "not signed" in bad.stderr
    stranger = signed_pack(tmp_path, signing_key(tmp_path / "stranger")[0], "1.0.0", {})
    bad = central.cli("pack", "add", str(stranger), check=False)
    assert bad.returncode == 1 and "does not trust" in bad.stderr
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    bad = central.cli("pack", "add", str(junk), check=False)
    assert bad.returncode == 1 and "not a zip" in bad.stderr

    good = signed_pack(tmp_path, key[0], "1.0.0", random_files({"media/a.bin": 1 * MB}))
    assert "Added fleet-pack 1.0.0" in central.cli("pack", "add", str(good)).stdout
    assert "already in the library" in central.cli("pack", "add", str(good)).stdout
    other = signed_pack(tmp_path, key[0], "1.0.0", random_files({"media/a.bin": 1000}))
    bad = central.cli("pack", "add", str(other), check=False)
    assert bad.returncode == 1 and "other content" in bad.stderr

    for args, words in (
        (["nope", "--all"], "No pack nope"),
        (["fleet-pack"], "exactly one"),
        (["fleet-pack", "--all", "--province", "Kandal"], "exactly one"),
        (["fleet-pack", "--site", "site-unknown"], "No device site-unknown"),
    ):
        bad = central.cli("pack", "assign", *args, check=False)
        assert bad.returncode == 1 and words in bad.stderr, (args, bad.stderr)
    central.cli("pack", "assign", "fleet-pack", "--province", "Kandal")
    listing = central.cli("pack", "list").stdout
    assert "fleet-pack\t1.0.0" in listing and "province:Kandal" in listing


def test_cut_download_resumes_then_a_new_version_fetches_only_changed_files(
    tmp_path: Path, central: CentralServer, key
) -> None:
    files = random_files({"media/a.bin": 3 * MB, "media/b.bin": 3 * MB, "media/c.bin": 2 * MB})
    v1 = signed_pack(tmp_path, key[0], "1.0.0", files)
    central.cli("pack", "add", str(v1))
    site = make_site(tmp_path, "kandal")
    elsewhere = make_site(tmp_path, "takeo")
    device = central.provision(site, province="Kandal")
    central.provision(elsewhere, province="Takeo")
    central.cli("pack", "assign", "fleet-pack", "--province", "Kandal")
    proxy = CountingProxy(central.port)
    try:
        settings = _site_settings(site, proxy.url, key[1])
        proxy.cut_after = 4 * MB  # about half of the 8 MB the pack needs
        sync_once(settings)
        assert proxy.cuts == 1
        assert "fleet-pack" not in _installed(site)
        parts = list((site.home.root / "downloads").glob("*.part"))
        assert len(parts) == 1 and 0 < parts[0].stat().st_size < 3 * MB
        first = proxy.down
        state = downloads.read_state(site.home)["packs"]["fleet-pack"]
        assert state["state"] == "pending" and "resumes" in state["reason"]
        assert [device, "fleet-pack", "1.0.0", "pending"] == _status(central)[0][:4]

        proxy.down = 0
        result = sync_once(settings)
        assert _installed(site) == {"fleet-pack": "1.0.0"}
        assert result.details["assigned"].installed == ["fleet-pack"]
        # Resumed: the second run fetched only what the first did not (plus headers).
        assert proxy.down <= 8 * MB - first + 4 * MB * 0.02 + 64 * 1024
        assert not list((site.home.root / "downloads").glob("*.part"))
        rows = {r[0]: r for r in _status(central)}
        assert rows[device][1:4] == ["fleet-pack", "1.0.0", "installed"]

        # Version 2 changes one 2 MB file: only it (and the manifest) travel.
        files["media/c.bin"] = random_files({"c": 2 * MB})["c"]
        v2 = signed_pack(tmp_path, key[0], "2.0.0", files)
        central.cli("pack", "add", str(v2))
        proxy.down = 0
        sync_once(settings)
        assert _installed(site) == {"fleet-pack": "2.0.0"}
        assert proxy.down <= 2 * MB * 1.05, proxy.down
        rows = {r[0]: r for r in _status(central)}
        assert rows[device][1:4] == ["fleet-pack", "2.0.0", "installed"]
    finally:
        proxy.close()


def test_budget_window_and_untrusted_signature_keep_the_site_as_it_was(
    tmp_path: Path, central: CentralServer, key
) -> None:
    v1 = signed_pack(tmp_path, key[0], "1.0.0", random_files({"media/a.bin": 3 * MB}))
    central.cli("pack", "add", str(v1))
    site = make_site(tmp_path, "battambang")
    device = central.provision(site, province="Battambang")
    central.cli("pack", "assign", "fleet-pack", "--site", device)

    closed = _site_settings(site, central.url, key[1], sync__download_window="00:00-00:01")
    if datetime.now().strftime("%H:%M") != "00:00":
        sync_once(closed)
        state = downloads.read_state(site.home)["packs"]["fleet-pack"]
        assert state["reason"] == "waiting for the download window"
        assert not list((site.home.root / "downloads").glob("*.part"))

    small = _site_settings(site, central.url, key[1], sync__daily_download_budget_mb=1.0)
    sync_once(small)
    state = downloads.read_state(site.home)
    assert state["packs"]["fleet-pack"]["reason"] == "the daily download budget is used up"
    assert state["bytes"] <= 1 * MB + 64 * 1024
    assert "fleet-pack" not in _installed(site)

    other_key = signing_key(tmp_path / "other-site-key")[1]
    distrust = _site_settings(site, central.url, other_key)
    sync_once(distrust)
    state = downloads.read_state(site.home)["packs"]["fleet-pack"]
    assert state["state"] == "failed" and "does not trust" in state["reason"]
    assert "fleet-pack" not in _installed(site)
    rows = {r[0]: r for r in _status(central)}
    assert rows[device][3] == "failed" and "does not trust" in rows[device][4]


@pytest.mark.parametrize(
    ("window", "now", "inside"),
    [
        ("22:00-06:00", "23:30", True),
        ("22:00-06:00", "05:59", True),
        ("22:00-06:00", "12:00", False),
        ("01:00-02:00", "01:30", True),
        ("", "12:00", True),
    ],
)
def test_download_window(window: str, now: str, inside: bool) -> None:
    moment = datetime.fromisoformat(f"2026-01-05T{now}:00")
    assert downloads.in_window(downloads.parse_window(window), moment) is inside


def test_bad_download_window_is_refused() -> None:
    with pytest.raises(downloads.BadWindow, match="22:00-06:00"):
        downloads.parse_window("night")
