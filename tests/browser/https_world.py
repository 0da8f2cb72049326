"""The HTTPS world of the browser tests (issue 23): one set-up, used by every module that
opens the site over HTTPS with a certificate a phone trusts.

Real parts end to end: BIND taking RFC 2136 updates, Pebble issuing by DNS-01 against it,
``kru central serve`` and ``kru central cert run``, the site's ``kru sync run``, the shipped
nginx config switched by kru-tls-apply, and Debian's Chromium trusting Pebble's root (new at
every Pebble start) through a test NSS certificate store in a temporary ``$HOME``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_server.base.datahome import DataHome
from tests import acme_support
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, PHONE, SITE_ENV, seed_demo
from tests.https_front import TlsFront
from tests.livesite import LiveSite, free_port
from tests.radio import ADDRESS as radio_address
from tests.radio import Radio
from tests.sync_support import KRU, CentralServer, make_site

DOMAIN = "kru.example.gov.kh"
NAME = f"tec-battambang.{DOMAIN}"

# Marks of a module that needs the world: slow, and skipped where the Debian packages are not
# installed (./dev.sh test installs them).
NEEDS_HTTPS_WORLD = [
    pytest.mark.slow,
    pytest.mark.skipif(
        acme_support.available() is not None or shutil.which("certutil") is None,
        reason="needs bind9, pebble, nginx and libnss3-tools (./dev.sh test installs them)",
    ),
]


def sync_site(site) -> None:
    out = subprocess.run(
        [KRU, "--data-dir", str(site.home.root), "sync", "run"],
        env={**site.env(), "KRU_HTTPS_DOMAIN": DOMAIN},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def https_world(root: Path, browser: Any) -> Iterator[dict[str, Any]]:
    """Pebble + BIND, central, a provisioned demo site holding a certificate, nginx, Chromium."""
    named = acme_support.Named(root / "named", DOMAIN).start()
    pebble = acme_support.Pebble(root / "pebble", named.port).start()
    central = CentralServer(root / "central")
    creds = central.data_dir / "secrets" / "dns.toml"
    creds.parent.mkdir(parents=True)
    creds.write_text(
        f'server = "127.0.0.1"\nport = {named.port}\nzone = "{DOMAIN}"\n'
        f'key_name = "{named.key_name}"\nkey_secret = "{named.key_secret}"\n'
    )
    creds.chmod(0o600)
    central.env.update(
        KRU_CENTRAL_HTTPS_DOMAIN=DOMAIN,
        KRU_CENTRAL_ACME_DIRECTORY=pebble.directory_url,
        KRU_CENTRAL_ACME_CA_BUNDLE=str(pebble.ca_path),
    )
    central.start()
    site = make_site(root, "kru-home")
    seed_demo(site.home.root)
    central.provision(site, name="TEC Battambang")
    sync_site(site)  # sends the request
    assert "ok" in central.cli("cert", "run").stdout
    sync_site(site)  # brings the chain
    https_port = free_port()
    live = LiveSite(
        site.home.root,
        env={**SITE_ENV, "KRU_HTTPS_DOMAIN": DOMAIN, "KRU_HTTPS_PORT": str(https_port)},
    ).start()
    front = TlsFront(root / "front", site.home.root, https_port, live.port)
    assert "started HTTPS" in front.apply().stdout
    radio = Radio(https_port)  # the Wi-Fi of the phones that leave it (wifi_off)

    # A browser profile trusting Pebble's root, as a phone trusts a public CA.
    home = root / "browser-home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    (root / "pebble-root.pem").write_text(pebble.root_pem())
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{nssdb}"], check=True)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-n",
            "pebble-root",
            "-t",
            "C,,",
            "-i",
            str(root / "pebble-root.pem"),
            "-d",
            f"sql:{nssdb}",
        ],
        check=True,
    )
    # One Playwright per test session (the ``browser`` fixture's): this Chromium, with its
    # own NSS store, is launched through it; a second sync_playwright() would be refused.
    chromium = browser.browser_type
    launch = {
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {NAME} 127.0.0.1"],
        "env": {"HOME": str(home), "PATH": "/usr/bin:/bin"},
    }
    browser = chromium.launch(**launch)
    resolve = f"--host-resolver-rules=MAP {NAME} {radio_address}"
    on_radio = {**launch, "args": [*CHROMIUM_ARGS, resolve]}
    yield {
        "browser": browser,
        "site": site,
        "live": live,
        "front": front,
        "radio": radio,
        "central": central,
        "https": f"https://{NAME}:{https_port}",
        "chromium": chromium,
        "launch": launch,
        "on_radio": on_radio,
    }
    browser.close()
    radio.stop()
    front.stop()
    live.stop()
    central.stop()
    pebble.stop()
    named.stop()


def phone(world: dict, base_url: str) -> Any:
    """Open a 360 px phone profile of the world's browser on ``base_url``."""
    context = world["browser"].new_context(viewport=PHONE, base_url=base_url)
    context.set_default_timeout(15_000)
    return context


def installed_phone(world: dict, profile: Path) -> Any:
    """Open a phone with a profile of its own on disk, trusting Pebble's root like the others,
    and reaching the site through the world's radio (``wifi_off``, ``wifi_on``).

    A browser context of its own (``phone``) is an incognito profile, where Chromium offers
    no app install (``in-incognito``); a persistent profile is a phone's normal browser.
    """
    context = world["chromium"].launch_persistent_context(
        str(profile), viewport=PHONE, base_url=world["https"], **world["on_radio"]
    )
    context.set_default_timeout(15_000)
    return context


def wifi_off(context: Any, world: dict) -> None:
    """The phone (an ``installed_phone``) leaves the Wi-Fi: nothing in its browser reaches
    the site, its service worker's requests neither, and its pages are told they are offline.
    Other phones (``phone``) stay on the Wi-Fi."""
    world["radio"].off()
    context.set_offline(True)


def wifi_on(context: Any, world: dict) -> None:
    """The phone is back on the Wi-Fi (its pages get the "online" event)."""
    world["radio"].on()
    context.set_offline(False)


def stored_ids(site_home: DataHome, ids: list[str]) -> list[str]:
    """Return which of ``ids`` the site's event log holds (read-only)."""
    con = sqlite3.connect(f"file:{site_home.database}?mode=ro", uri=True, timeout=10)
    try:
        marks = ",".join("?" * len(ids))
        return [r[0] for r in con.execute(f"SELECT id FROM events WHERE id IN ({marks})", ids)]
    finally:
        con.close()


def queued(page: Any) -> dict[str, list[dict]]:
    """Return the page's learning-event queue (kru-events.js), by user."""
    return json.loads(page.evaluate("localStorage.getItem('kru.events.v1') || '{}'"))
