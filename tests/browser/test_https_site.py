"""A site gets its certificate through sync and phones open it over HTTPS (issue 23).

Real parts end to end: BIND taking RFC 2136 updates, Pebble issuing by DNS-01 against it,
``kru central serve`` and ``kru central cert run``, the site's ``kru sync run``, the shipped
nginx config switched by kru-tls-apply, and Debian's Chromium trusting Pebble's root (new at
every Pebble start) through a test NSS certificate store in a temporary ``$HOME``.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from playwright.sync_api import Error as PlaywrightError

from edge_server.base import site_tls
from edge_server.base.datahome import DataHome
from tests import acme_support
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, PHONE, SITE_ENV, seed_demo, sign_in
from tests.https_front import TlsFront
from tests.livesite import LiveSite, free_port
from tests.sync_support import KRU, CentralServer, make_site

DOMAIN = "kru.example.gov.kh"
NAME = f"tec-battambang.{DOMAIN}"
LESSON = "/learn/items/classroom-reading/routines-and-rules"
ITEM = "classroom-reading/routines-and-rules"

pytestmark = [
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


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, browser):
    """Pebble + BIND, central, a provisioned demo site holding a certificate, nginx, Chromium."""
    root = tmp_path_factory.mktemp("https-world")
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
    browser = chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {NAME} 127.0.0.1"],
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    yield {
        "browser": browser,
        "site": site,
        "live": live,
        "front": front,
        "central": central,
        "https": f"https://{NAME}:{https_port}",
    }
    browser.close()
    front.stop()
    live.stop()
    central.stop()
    pebble.stop()
    named.stop()


def phone(world: dict, base_url: str):
    context = world["browser"].new_context(viewport=PHONE, base_url=base_url)
    context.set_default_timeout(15_000)
    return context


def stored_ids(site_home: DataHome, ids: list[str]) -> list[str]:
    import sqlite3

    con = sqlite3.connect(f"file:{site_home.database}?mode=ro", uri=True, timeout=10)
    try:
        marks = ",".join("?" * len(ids))
        return [r[0] for r in con.execute(f"SELECT id FROM events WHERE id IN ({marks})", ids)]
    finally:
        con.close()


def queued(page) -> dict[str, list[dict]]:
    return json.loads(page.evaluate("localStorage.getItem('kru.events.v1') || '{}'"))


def test_the_site_opens_over_https_with_no_certificate_error(world: dict) -> None:
    context = phone(world, world["https"])
    page = context.new_page()
    response = page.goto("/login")  # raises on a certificate error
    assert response is not None and response.ok
    assert page.url.startswith(f"https://{NAME}:")
    details = response.security_details()
    assert details is not None and details["subjectName"] == NAME
    assert "Pebble" in details["issuer"]
    sign_in(page, "learner1")
    assert page.evaluate("window.isSecureContext") is True
    context.close()


def test_a_name_other_than_the_sites_gets_no_certificate(world: dict) -> None:
    context = phone(world, world["https"].replace(NAME, "127.0.0.1"))
    with pytest.raises(PlaywrightError):
        context.new_page().goto("/login")
    context.close()


def test_events_queued_on_the_http_origin_are_not_stranded(world: dict) -> None:
    """A phone queued events over HTTP with the server unreachable; HTTPS then arrives."""
    site_home = world["site"].home
    chain = site_tls.TlsPaths.of(site_home).chain
    saved = chain.read_bytes()
    chain.unlink()  # before the certificate arrived: HTTP only
    context = phone(world, world["live"].url)
    page = context.new_page()
    sign_in(page, "learner2")
    # The events endpoint is unreachable from this page (a Wi-Fi blip) while studying.
    page.route(f"{world['live'].url}/api/v1/events", lambda route: route.abort())
    page.goto(LESSON)
    page.locator("#mark-done").click()
    mine = [e["id"] for queue in queued(page).values() for e in queue]
    assert len(mine) >= 2  # viewed and completed, both waiting

    # The certificate arrives at sync; kru-tls-apply puts it into service.
    chain.write_bytes(saved)
    world["front"].apply()
    # Still unreachable on HTTP: the handover must carry the queue to the HTTPS origin.
    with page.expect_navigation(url=f"{world['https']}/**"):
        page.goto("/learn/")
    page.wait_for_url(f"{world['https']}/learn/**")
    assert not page.url.endswith("/login")
    carried = [e["id"] for queue in queued(page).values() for e in queue]
    assert set(mine) <= set(carried)
    # The next lesson page on HTTPS sends them: each arrives once.
    page.goto(world["https"] + LESSON)
    page.wait_for_function("() => KruEvents.pending() === 0", polling=100)
    assert sorted(stored_ids(site_home, mine)) == sorted(mine)
    context.close()


def test_http_page_sends_its_queue_before_moving(world: dict) -> None:
    site_home = world["site"].home
    chain = site_tls.TlsPaths.of(site_home).chain
    saved = chain.read_bytes()
    chain.unlink()
    context = phone(world, world["live"].url)
    page = context.new_page()
    sign_in(page, "learner3")
    blocked = {"on": True}
    page.route(
        f"{world['live'].url}/api/v1/events",
        lambda route: route.abort() if blocked["on"] else route.continue_(),
    )
    page.goto(LESSON)
    mine = [e["id"] for queue in queued(page).values() for e in queue]
    assert mine
    chain.write_bytes(saved)
    world["front"].apply()
    blocked["on"] = False  # the link is back: the HTTP page flushes before it moves
    page.goto("/learn/")
    page.wait_for_url(f"{world['https']}/learn/**")
    assert sorted(stored_ids(site_home, mine)) == sorted(mine)
    context.close()


def test_a_lapsed_certificate_means_http_only(world: dict) -> None:
    front = world["front"]
    chain = site_tls.TlsPaths.of(world["site"].home).chain
    saved = chain.read_bytes()
    chain.unlink()  # as good as lapsed for kru-tls-apply: nothing valid to serve
    try:
        assert "serving HTTP only" in front.apply().stdout
        assert not front.running()
        context = phone(world, world["live"].url)
        page = context.new_page()
        sign_in(page, "learner4")
        page.goto("/learn/")
        assert page.url.startswith(world["live"].url)
        context.close()
    finally:
        chain.write_bytes(saved)
        front.apply()
