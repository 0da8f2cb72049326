"""Knowing the fleet with real central and site servers (issue 20 item 6, issue 19 items 5-6):
each site's status at sync, silent sites, and a cloned identity detected and resolved."""

from __future__ import annotations

import html
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync import protocol
from sync.edge import advice, status
from sync.edge.agent import REJECTED, Agent
from sync.edge.site_status import kru_version
from tests.central_support import sign_in
from tests.sync_support import CentralServer, Site, add_events, central_counts, make_site


def machine_file(root: Path, name: str) -> list[str]:
    path = root / f"{name}.machine-id"
    path.write_text(f"{name}0123456789abcdef0123456789\n")
    return [str(path)]


def online(site: Site):
    db = site.open()
    try:
        return Agent(site.settings, site.home, db).run()
    finally:
        db.close()


def device_row(central: CentralServer, device: str) -> dict:
    con = sqlite3.connect(central.data_dir / "central.sqlite3")
    con.row_factory = sqlite3.Row
    try:
        return dict(con.execute("SELECT * FROM devices WHERE device_id = ?", (device,)).fetchone())
    finally:
        con.close()


def sync_card(site: Site) -> advice.SyncState:
    db = site.open()
    try:
        return advice.explain(status.status_from_db(site.settings, site.home, db))
    finally:
        db.close()


def test_a_cloned_sd_card_is_refused_and_flagged_until_the_old_pi_is_marked_replaced(
    tmp_path, central
):
    site = make_site(tmp_path, "tec-one", **{"sync.machine_id_files": machine_file(tmp_path, "a")})
    device = central.provision(site)
    ids = add_events(site, 40)
    assert online(site).events_sent == 40
    # The SD card is copied into a second Pi, which records learners' work of its own.
    shutil.copytree(site.home.root, tmp_path / "tec-clone")
    clone = make_site(
        tmp_path, "tec-clone", **{"sync.machine_id_files": machine_file(tmp_path, "b")}
    )
    clone_ids = add_events(clone, 12)
    refused = online(clone)
    assert refused.code == REJECTED
    assert refused.details["server_code"] == protocol.E_IDENTITY_CLASH
    assert central_counts(central.data_dir)["ids"] == set(ids)  # nothing of the clone stored
    row = device_row(central, device)
    assert row["clash_machine"] and row["clash_machine"] != row["machine"]
    # The clone's sync card says what happened and what to do, in plain words.
    card = sync_card(clone)
    assert card.code == "identity_clash"
    assert "another Pi already syncs with this site's identity" in card.sentence.text
    assert "mark the old Pi replaced" in card.next_step.text
    listed = central.cli("device", "list").stdout
    assert "IDENTITY CLASH" in listed and f"kru central device replace {device}" in listed
    # The first Pi keeps syncing meanwhile.
    ids += add_events(site, 5)
    assert online(site).caught_up
    # The admin learns the old Pi broke and the clone is its replacement: it takes over.
    out = central.cli("device", "replace", device)
    assert "is refused from now on" in out.stdout
    taken = online(clone)
    assert taken.caught_up and taken.events_sent == 12
    assert set(clone_ids) <= central_counts(central.data_dir)["ids"]
    assert sync_card(clone).code != "identity_clash"
    # The old Pi, if it comes back, is refused in its turn.
    add_events(site, 3)
    assert online(site).details["server_code"] == protocol.E_IDENTITY_CLASH


def test_replace_without_a_clash_fails_with_one_line(tmp_path, central):
    site = make_site(tmp_path, "tec-two")
    device = central.provision(site)
    out = central.cli("device", "replace", device, check=False)
    assert out.returncode == 1
    assert "nothing to replace" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    out = central.cli("device", "replace", "site-nobody", check=False)
    assert out.returncode == 1 and "No device" in out.stderr


def test_power_disk_and_version_reach_central_at_sync(tmp_path, central):
    flags = tmp_path / "get_throttled"
    flags.write_text("throttled=0x50005\n")  # under-voltage now and since boot
    site = make_site(
        tmp_path,
        "tec-three",
        **{"system.throttled_file": flags, "disk.warn_mb": 100_000_000},  # always "low"
    )
    device = central.provision(site)
    result = online(site)  # nothing to send: the status goes on its own
    assert result.caught_up and result.events_sent == 0
    row = device_row(central, device)
    assert row["status_via"] == "online" and row["kru_version"]
    import json

    reported = json.loads(row["status"])
    assert reported["power"]["advice"] == "power_supply"
    assert "under_voltage" in reported["power"]["found"]
    assert reported["disk"]["low"] is True
    # A batch carries the status too: the flags are fixed, the next sync says so.
    flags.write_text("throttled=0x0\n")
    add_events(site, 3)
    assert online(site).events_sent == 3
    assert json.loads(device_row(central, device)["status"])["power"]["advice"] == "none"


@pytest.fixture
def fleet_dashboard(tmp_path, central, make_central_app):
    """Three sites on one central: one fine, one silent with a weak power supply and a full
    disk, one with a cloned identity; the dashboard rendered by the central app in process
    (the same database as the live server)."""
    fine = make_site(tmp_path, "tec-fine", **{"sync.machine_id_files": machine_file(tmp_path, "f")})
    central.provision(fine, name="TEC Kampot")
    assert online(fine).caught_up
    flags = tmp_path / "weak"
    flags.write_text("0x50005")
    weak = make_site(
        tmp_path,
        "tec-weak",
        **{
            "system.throttled_file": flags,
            "disk.warn_mb": 100_000_000,
            "sync.machine_id_files": machine_file(tmp_path, "w"),
        },
    )
    weak_id = central.provision(weak, name="CTC Svay Rieng")
    assert online(weak).caught_up
    cloned = make_site(
        tmp_path, "tec-cloned", **{"sync.machine_id_files": machine_file(tmp_path, "c")}
    )
    cloned_id = central.provision(cloned, name="TEC Battambang")
    assert online(cloned).caught_up
    shutil.copytree(cloned.home.root, tmp_path / "tec-copy")
    copy = make_site(tmp_path, "tec-copy", **{"sync.machine_id_files": machine_file(tmp_path, "d")})
    assert online(copy).code == REJECTED
    # CTC Svay Rieng was last heard from ten days ago.
    con = sqlite3.connect(central.data_dir / "central.sqlite3")
    ten_days = (datetime.now(UTC) - timedelta(days=10)).isoformat(timespec="seconds")
    con.execute("UPDATE devices SET last_seen_at = ? WHERE device_id = ?", (ten_days, weak_id))
    con.commit()
    con.close()
    app = make_central_app(**{"central.silent_days": 7})
    return app, {"weak": weak_id, "cloned": cloned_id, "copy": copy}


def test_the_dashboard_lists_sites_that_need_attention(fleet_dashboard):
    app, ids = fleet_dashboard
    client = app.test_client()
    sign_in(client, "admin")
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = html.unescape(client.get("/").get_data(as_text=True))
    start = page.index('id="fleet-health"')
    fleet = page[start : page.index("</section>", start)]
    assert "TEC Kampot" not in fleet  # nothing to look at
    weak = fleet[fleet.index(f'data-device="{ids["weak"]}"') :]
    weak = weak[: weak.index('<li data-device="', 10) if '<li data-device="' in weak[10:] else None]
    assert "silent for 10 days" in weak
    assert "weak power supply" in weak and "disk almost full" in weak
    assert f'<span data-field="kru_version">{kru_version()}</span>' in weak
    cloned = fleet[fleet.index(f'data-device="{ids["cloned"]}"') :]
    cloned = cloned[
        : cloned.index('<li data-device="', 10) if '<li data-device="' in cloned[10:] else None
    ]
    assert "identity clash" in cloned and "The old Pi was replaced" in cloned


def test_a_sites_page_shows_what_it_reported(fleet_dashboard):
    app, ids = fleet_dashboard
    client = app.test_client()
    sign_in(client, "viewer")
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = html.unescape(client.get(f"/sites/{ids['weak']}").get_data(as_text=True))
    assert f'data-field="kru_version">{kru_version()}<' in page
    assert "weak power supply (under-voltage)" in page and "disk almost full" in page
    cloned = html.unescape(client.get(f"/sites/{ids['cloned']}").get_data(as_text=True))
    assert "identity clash" in cloned


def test_the_admin_resolves_a_clash_from_the_dashboard(fleet_dashboard):
    app, ids = fleet_dashboard
    client = app.test_client()
    sign_in(client, "admin")
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = client.get("/").get_data(as_text=True)
    from tests.conftest import form_csrf

    response = client.post(
        f"/sites/{ids['cloned']}/replace-machine",
        data={"csrf_token": form_csrf(page)},
        follow_redirects=True,
    )
    assert "The new Pi now syncs as this site" in html.unescape(response.get_data(as_text=True))
    assert online(ids["copy"]).caught_up


def test_a_viewer_cannot_resolve_a_clash(fleet_dashboard):
    app, ids = fleet_dashboard
    client = app.test_client()
    sign_in(client, "viewer")
    page = client.get("/").get_data(as_text=True)
    assert "The old Pi was replaced" not in page
    from tests.conftest import form_csrf

    response = client.post(
        f"/sites/{ids['cloned']}/replace-machine", data={"csrf_token": form_csrf(page)}
    )
    assert response.status_code == 403
    assert online(ids["copy"]).code == REJECTED


def test_clash_status_and_replacement_on_sqlite_and_postgresql(tmp_path, central_on_both):
    """The identity clash, the status and the replacement's fresh acknowledgement hold on
    both databases central runs on."""
    from tests.sync_support import central_rows

    server, url = central_on_both
    flags = tmp_path / "flags"
    flags.write_text("0x50000")  # under-voltage since boot
    site = make_site(
        tmp_path,
        "tec-pg",
        **{"system.throttled_file": flags, "sync.machine_id_files": machine_file(tmp_path, "p")},
    )
    device = server.provision(site)
    ids = add_events(site, 30)
    assert online(site).events_sent == 30
    shutil.copytree(site.home.root, tmp_path / "tec-pg-copy")
    copy = make_site(
        tmp_path, "tec-pg-copy", **{"sync.machine_id_files": machine_file(tmp_path, "q")}
    )
    copy_ids = add_events(copy, 8)
    assert online(copy).details["server_code"] == protocol.E_IDENTITY_CLASH
    ids += add_events(site, 4)  # the old Pi sent seq 31-34 before it broke
    assert online(site).events_sent == 4
    status_sql = f"SELECT status, clash_machine FROM devices WHERE device_id = '{device}'"
    reported, clash = central_rows(server, url, status_sql)[0]
    assert '"power_supply"' in reported and clash
    server.cli("device", "replace", device)
    taken = online(copy)
    assert taken.caught_up and taken.events_sent == 8  # its seq 31-38 all go
    held = {r[0] for r in central_rows(server, url, "SELECT event_id FROM central_events")}
    assert held == set(ids) | set(copy_ids)
    acked = central_rows(server, url, f"SELECT acked_seq FROM devices WHERE device_id = '{device}'")
    assert acked == [(38,)]
