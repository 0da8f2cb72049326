"""Site certificates end to end: site CSR → sync → central issues by ACME DNS-01 → sync → site.

Real parts: a real BIND taking RFC 2136 updates signed with TSIG, Pebble (Let's Encrypt's
test CA) resolving the challenge records against that BIND, ``kru central serve`` and the
site's ``kru sync run`` as subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from edge_server.base import site_tls
from edge_server.base.datahome import DataHome
from tests import acme_support
from tests.sync_support import KRU, CentralServer, add_events, make_site

DOMAIN = "kru.example.gov.kh"
NAME = f"tec-battambang.{DOMAIN}"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(acme_support.available() is not None, reason=str(acme_support.available())),
]


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("acme")
    named = acme_support.Named(root / "named", DOMAIN).start()
    pebble = acme_support.Pebble(root / "pebble", named.port).start()
    yield named, pebble
    pebble.stop()
    named.stop()


def dns_credentials(path: Path, named: acme_support.Named) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'server = "127.0.0.1"\nport = {named.port}\nzone = "{named.zone}"\n'
        f'key_name = "{named.key_name}"\nkey_secret = "{named.key_secret}"\n'
        'key_algorithm = "hmac-sha256"\n'
    )
    path.chmod(0o600)
    return path


@pytest.fixture
def central(tmp_path: Path, acme):
    named, pebble = acme
    server = CentralServer(tmp_path / "central")
    dns_credentials(server.data_dir / "secrets" / "dns.toml", named)
    server.env.update(
        KRU_CENTRAL_HTTPS_DOMAIN=DOMAIN,
        KRU_CENTRAL_ACME_DIRECTORY=pebble.directory_url,
        KRU_CENTRAL_ACME_CA_BUNDLE=str(pebble.ca_path),
    )
    server.start()
    yield server
    server.stop()


def site_sync(site, *args: str) -> subprocess.CompletedProcess:
    env = {**site.env(), "KRU_HTTPS_DOMAIN": DOMAIN}
    return subprocess.run(
        [KRU, "--data-dir", str(site.home.root), "sync", "run", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cert_rows(central: CentralServer) -> dict[str, dict]:
    out = central.cli("cert", "list").stdout
    rows = {}
    for line in out.splitlines():
        device, name, state, *rest = line.split("\t")
        rows[device] = {"name": name, "state": state, "rest": rest}
    return rows


def chain_of(site) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(site_tls.TlsPaths.of(site.home).chain.read_bytes())


def verify_to_root(chain: list[x509.Certificate], root_pem: str) -> None:
    """Check each certificate was issued by the next, the last by Pebble's root."""
    root = x509.load_pem_x509_certificate(root_pem.encode())
    for child, parent in zip(chain, [*chain[1:], root], strict=True):
        child.verify_directly_issued_by(parent)


def test_a_site_gets_a_certificate_through_sync_and_central_renews_it(tmp_path, acme, central):
    named, pebble = acme
    site = make_site(tmp_path, "tec-btb")
    device = central.provision(site, name="TEC Battambang")
    add_events(site, 20)

    # 1. The first sync pushes the events and sends the site's certificate request.
    first = site_sync(site)
    assert first.returncode == 0, first.stderr
    key_file = site.home.secrets / site_tls.KEY_FILE
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert cert_rows(central)[device]["state"] == "pending"
    assert cert_rows(central)[device]["name"] == NAME

    # 2. The issuing job (outside any web request) obtains it from Pebble by DNS-01.
    issued = central.cli("cert", "run")
    assert f"{device}\t{NAME}\tok" in issued.stdout, issued.stdout + issued.stderr
    assert named.query(f"_acme-challenge.{NAME}.", "TXT") == []  # the record is removed
    assert "Nothing is due" in central.cli("cert", "run").stdout

    # 3. The next sync brings the chain back; the site installs it.
    assert site_sync(site).returncode == 0
    chain = chain_of(site)
    verify_to_root(chain, pebble.root_pem())
    state = site_tls.status(site.home, NAME)
    assert state.state == site_tls.VALID and state.serving
    # The private key never left the site: central holds only the request.
    key_pem = key_file.read_bytes()
    central_db = central.data_dir / "central.sqlite3"
    assert key_pem not in central_db.read_bytes()

    # 4. Forced renewal from the CLI: a new chain for the same key, installed at next sync.
    renewed = central.cli("cert", "run", "--device", device, "--force")
    assert "ok" in renewed.stdout
    assert site_sync(site).returncode == 0
    new_chain = chain_of(site)
    assert new_chain[0].serial_number != chain[0].serial_number
    assert new_chain[0].public_key() == chain[0].public_key()


def test_renewal_is_due_at_two_thirds_of_the_lifetime(tmp_path, acme, central):
    """The job renews an issued chain only once 2/3 of its lifetime has passed."""
    from edge_server.base.settings import load_settings
    from sync.central import cert_job
    from sync.central.db import connect_database, upgrade

    site = make_site(tmp_path, "ctc-kampot")
    device = central.provision(site, name="CTC Kampot")
    assert site_sync(site).returncode == 0
    assert "ok" in central.cli("cert", "run").stdout
    first = json.loads(central.cli("cert", "show", device).stdout)
    start = datetime.fromisoformat(first["renew_after"])

    env = {k: v for k, v in central.env.items() if k.startswith("KRU_CENTRAL_")}
    settings = load_settings(
        environ=env, overrides={"data_dir": str(central.data_dir), "log_level": "WARNING"}
    )
    real = connect_database(settings)
    upgrade(real)
    try:
        home = DataHome(central.data_dir)
        assert cert_job.run_once(settings, home, now=start - timedelta(minutes=1)) == []
        outcomes = cert_job.run_once(settings, home, now=start + timedelta(minutes=1))
    finally:
        real.close()
    assert [(o.device_id, o.ok) for o in outcomes] == [(device, True)]
    second = json.loads(central.cli("cert", "show", device).stdout)
    assert second["not_after"] >= first["not_after"]


def test_a_request_for_another_name_is_refused_and_shown(tmp_path, acme, central):
    site = make_site(tmp_path, "tec-x")
    device = central.provision(site, name="TEC Kandal")
    env = {**site.env(), "KRU_HTTPS_DOMAIN": DOMAIN, "KRU_HTTPS_SITE_LABEL": "tec-battambang"}
    out = subprocess.run(
        [KRU, "--data-dir", str(site.home.root), "sync", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr  # the learning data went through all the same
    assert cert_rows(central)[device]["state"] == "none"
    saved = json.loads((site.home.root / "https" / "central.json").read_text())
    assert saved["problem"].startswith("name_not_allowed")
    assert f"tec-kandal.{DOMAIN}" in saved["problem"]


def test_issuing_fails_clearly_when_the_dns_server_refuses_the_key(tmp_path, acme, central):
    named, _pebble = acme
    site = make_site(tmp_path, "tec-y")
    device = central.provision(site, name="TEC Takeo")
    assert site_sync(site).returncode == 0
    creds = central.data_dir / "secrets" / "dns.toml"
    text = creds.read_text().replace(
        named.key_secret, "c2VjcmV0LWJ1dC13cm9uZy1zZWNyZXQtYnV0LXdyb25n"
    )
    creds.write_text(text)
    failed = central.cli("cert", "run", check=False)
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout and "refused the TSIG key" in failed.stdout
    row = cert_rows(central)[device]
    assert row["state"] == "failed"
    # Retried later, not at once.
    assert "Nothing is due" in central.cli("cert", "run").stdout


def test_central_without_dns_credentials_says_what_to_do(tmp_path, acme, central):
    site = make_site(tmp_path, "tec-z")
    central.provision(site, name="TEC Pursat")
    assert site_sync(site).returncode == 0
    os.remove(central.data_dir / "secrets" / "dns.toml")
    failed = central.cli("cert", "run", check=False)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1].startswith("Error: The DNS credentials file")
