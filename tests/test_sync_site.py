"""The site side of sync: identity, provisioning, status, the admin panel, the daemon."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess

import pytest

from edge_server.base.datahome import DataHome
from sync.edge import identity
from tests.sync_support import (
    KRU,
    CentralServer,
    add_events,
    central_counts,
    make_site,
    wait_until,
)

PROVISIONING = """central_url = "https://central.example.gov.kh"
device_id = "site-0123456789abcdef0123"
secret = "{secret}"
name = "TEC Kampot"
"""


def test_an_unprovisioned_site_makes_its_own_private_identity(tmp_path):
    home = DataHome(tmp_path / "a").ensure()
    made = identity.load_identity(home, machine_id="m1")
    path = home.secrets / identity.IDENTITY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert identity.load_identity(home, machine_id="m1") == made
    assert not made.provisioned


def test_two_sites_never_share_an_identity(tmp_path):
    one = identity.load_identity(DataHome(tmp_path / "a").ensure(), machine_id="m")
    two = identity.load_identity(DataHome(tmp_path / "b").ensure(), machine_id="m")
    assert one.device_id != two.device_id
    assert one.secret != two.secret


def test_a_pi_cloned_from_an_image_with_an_identity_makes_a_new_one(tmp_path):
    home = DataHome(tmp_path / "image").ensure()
    original = identity.load_identity(home, machine_id="built-on-this")
    clone = identity.load_identity(home, machine_id="another-pi")
    assert clone.device_id != original.device_id


def test_sync_provision_replaces_the_identity(tmp_path, runner, data_dir):
    path = tmp_path / "p.toml"
    path.write_text(PROVISIONING.format(secret="ab" * 32))
    result = runner("sync", "provision", str(path))
    assert result.exit_code == 0, result.output
    got = identity.load_identity(DataHome(data_dir), machine_id="any")
    assert got.device_id == "site-0123456789abcdef0123"
    assert got.central_url == "https://central.example.gov.kh"
    assert got.provisioned


@pytest.mark.parametrize(
    "text",
    [
        "not toml [",
        PROVISIONING.format(secret="short"),
        PROVISIONING.format(secret="ab" * 32).replace("https://", "ftp://"),
    ],
)
def test_a_bad_provisioning_file_is_refused_and_changes_nothing(tmp_path, runner, data_dir, text):
    home = DataHome(data_dir).ensure()
    before = identity.load_identity(home, machine_id=identity.current_machine_id())
    path = tmp_path / "p.toml"
    path.write_text(text)
    result = runner("sync", "provision", str(path))
    assert result.exit_code == 1
    assert result.output.startswith("Error: Provisioning file")
    assert identity.load_identity(home, machine_id=identity.current_machine_id()) == before


def test_sync_status_prints_the_promised_keys(runner):
    runner("migrate")
    result = runner("sync", "status")
    status = json.loads(result.output)
    for key in (
        "device_id",
        "pending_events",
        "last_success_at",
        "last_error",
        "last_attempt_at",
        "bytes_today",
        "budget_bytes",
        "central_url",
    ):
        assert key in status


def test_sync_status_only_reads_a_database_with_pending_migrations(runner, data_dir):
    runner("migrate", "--target", "m0001_accounts")
    before = sqlite3.connect(data_dir / "kru.sqlite3")
    applied = before.execute("SELECT name FROM kru_migrations").fetchall()
    before.close()

    result = runner("sync", "status")

    assert result.exit_code == 1
    assert result.output.startswith("Error: The database needs")
    assert "run: kru migrate" in result.output
    after = sqlite3.connect(data_dir / "kru.sqlite3")
    assert after.execute("SELECT name FROM kru_migrations").fetchall() == applied
    after.close()
    assert not (data_dir / "backups").exists()


def test_sync_status_of_a_site_without_a_database_creates_none(runner, data_dir):
    result = runner("sync", "status")
    assert result.exit_code == 1
    assert "run: kru migrate" in result.output
    assert not (data_dir / "kru.sqlite3").exists()


def test_sync_run_without_a_central_server_exits_1_with_one_line(runner):
    result = runner("sync", "run")
    assert result.exit_code == 1
    assert result.output.startswith("Error: Not caught up (not_configured")
    assert len(result.output.strip().splitlines()) == 1


def test_admin_page_shows_the_sync_panel(app, client, login_as):
    login_as("admin")
    client.post("/language", data={"lang": "en", "csrf_token": _token(client)})
    html = client.get("/admin/").get_data(as_text=True)
    assert 'id="sync"' in html
    assert "Records waiting" in html


def _token(client) -> str:
    return client.get("/api/v1/session").get_json()["csrf_token"]


def test_device_add_writes_a_private_provisioning_file(tmp_path):
    central = CentralServer(tmp_path / "central")
    out = tmp_path / "p.toml"
    result = central.cli(
        "device", "add", "--name", "TEC Kampot", "--url", "https://c.example", "-o", str(out)
    )
    device_id = result.stdout.splitlines()[0]
    assert out.stat().st_mode & 0o777 == 0o600
    assert identity.read_provisioning_file(out).device_id == device_id


def test_device_add_without_a_url_is_refused(tmp_path):
    central = CentralServer(tmp_path / "central")
    result = central.cli("device", "add", "--name", "TEC", check=False)
    assert result.returncode == 1
    assert "URL" in result.stderr


def test_central_user_add_refuses_a_short_password(tmp_path):
    central = CentralServer(tmp_path / "central")
    result = central.cli("user", "add", "--username", "ana", "--password", "x", check=False)
    assert result.returncode == 1
    assert "at least 8 characters" in result.stderr


@pytest.mark.slow
def test_daemon_syncs_when_woken(tmp_path):
    central = CentralServer(tmp_path / "central").start()
    site = make_site(tmp_path, "daemon-site")
    central.provision(site)
    site.open().close()  # migrate first: two processes must not race to create the schema
    env = site.env()
    env["KRU_SYNC_INTERVAL_S"] = "3600"
    daemon = subprocess.Popen(
        [KRU, "--data-dir", str(site.home.root), "sync", "daemon"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: (site.home.root / "sync-daemon.pid").exists())
        ids = add_events(site, 30)
        subprocess.run(
            [KRU, "--data-dir", str(site.home.root), "sync", "now"],
            env=env,
            check=True,
            capture_output=True,
        )
        wait_until(lambda: central_counts(central.data_dir)["total"] == len(ids), timeout=30)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=20)
        central.stop()
    assert not (site.home.root / "sync-daemon.pid").exists()
    assert os.path.exists(central.data_dir / "central.sqlite3")


def test_sync_panel_speaks_khmer_by_default(app, client, login_as):
    login_as("admin")
    html = client.get("/admin/").get_data(as_text=True)
    assert "ធ្វើសមកាលកម្មឥឡូវនេះ" in html  # "Sync now"


def test_sync_now_answers_in_the_card_once(app, client, login_as):
    login_as("admin")
    client.post("/language", data={"lang": "en", "csrf_token": _token(client)})
    response = client.post("/admin/sync/run", data={"csrf_token": _token(client)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/#sync")
    html = client.get("/admin/").get_data(as_text=True)
    card = html[html.index('id="sync"') : html.index("</section>", html.index('id="sync"'))]
    assert 'id="sync-result"' in card and "The sync service is not running on the Pi" in card
    assert "kru sync daemon" not in html
    assert 'id="sync-result"' not in client.get("/admin/").get_data(as_text=True)


def test_the_sync_card_explains_an_identity_clash_in_khmer(app, client, login_as, tmp_path):
    """Issue 20 item 6: a Pi refused because another one holds its identity says so plainly."""
    import html as html_lib

    from edge_server.base.db import db
    from edge_server.web.i18n import load_catalog
    from sync.edge import state
    from sync.edge.identity import provision

    path = tmp_path / "site.toml"
    path.write_text(
        'central_url = "https://kru.example.gov.kh"\ndevice_id = "site-0123456789abcdef0123"\n'
        f'secret = "{"ab" * 32}"\nname = "TEC Kampot"\n'
    )
    provision(app.config["KRU_HOME"], path)
    state.record_error(db, "identity_clash", "Another machine already syncs as site-0123…")
    login_as("admin")
    page = html_lib.unescape(client.get("/admin/").get_data(as_text=True))
    card = page[page.index('id="sync"') :]
    km = load_catalog("km")
    sentence = km.gettext(
        "The ministry's server refuses this Pi: another Pi already syncs with this site's "
        "identity. That happens when an SD card is copied, or when a backup is restored onto a "
        "second Pi. %(count)s records wait on this Pi; nothing is lost."
    )
    assert sentence.split("%(count)s")[0] in card
    assert "site-0123456789abcdef0123" in card  # the name to read out, in Latin digits
    assert 'class="badge bad"' in card[: card.index("sync-next")]
