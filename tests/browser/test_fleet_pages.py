"""The fleet in Chromium at 360 px, in Khmer (issue 20 items 4 and 6): "Save sync data to USB"
on the Site page with a FAT32 stick (a FUSE-mounted image) carried to a real central server
and back, and central's list of sites that need attention with an identity clash resolved."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_server.base.datahome import DataHome
from edge_server.base.settings import load_settings
from sync.edge.agent import Agent
from tests.fake_pi import HELPER, FakePi
from tests.sync_support import FAST, CentralServer, Site, add_events, central_counts, make_site

from .harness import km, new_phone_context, screenshot_dir, sign_in, start_demo_site

DEMO_CONTENT = False


@pytest.fixture(scope="module")
def fake_pi(tmp_path_factory) -> Iterator[FakePi]:
    pi = FakePi(tmp_path_factory.mktemp("fleet-pi"))
    yield pi
    pi.unmount()


@pytest.fixture(scope="module")
def site(fake_pi, tmp_path_factory) -> Iterator:
    live = start_demo_site(tmp_path_factory.mktemp("fleet-site"), content=False, env=fake_pi.env)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def central(tmp_path_factory) -> Iterator[CentralServer]:
    server = CentralServer(tmp_path_factory.mktemp("fleet-central") / "central").start()
    server.cli(
        "user", "add", "--username", "admin1", "--password", "lotus-pond-7", "--role", "admin"
    )
    yield server
    server.stop()


def helper(pi: FakePi, request: str) -> None:
    subprocess.run([sys.executable, str(HELPER), str(pi.config), request], check=True)


def use(page, lang: str) -> None:
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation():
            page.locator(f"header button[name=lang][value={lang}]").click()


def to_khmer(page) -> None:
    use(page, "km")


def test_save_sync_data_to_usb_and_read_centrals_acknowledgement(
    page, site, fake_pi, central, tmp_path
):
    live = Site(
        load_settings(environ={}, overrides={"data_dir": str(site.data_dir), **FAST}),
        DataHome(site.data_dir),
    )
    device = central.provision(live, name="CTC Preah Vihear", province="ព្រះវិហារ")
    ids = add_events(live, 140)
    sign_in(page, "admin")
    page.goto("/admin/")
    to_khmer(page)
    with page.expect_navigation():
        page.locator("#backup form[data-device=sdz1] button").click()
    card = page.locator("#backup")
    assert (
        km(
            "%(count)s learning records wait to be sent to the ministry; where no internet comes, "
            "carry them on this stick.",
            count="១៤០",
        )
        in card.inner_text()
    )
    card.scroll_into_view_if_needed()
    shots = screenshot_dir(tmp_path / "shots", "site")
    card.screenshot(path=str(shots / "km-site-usb-sync.png"))
    use(page, "en")
    card.screenshot(path=str(shots / "en-site-usb-sync.png"))
    to_khmer(page)
    with page.expect_navigation():
        page.locator("#usb-sync button").click()
    assert "១៤០" in page.locator(".flash.success").first.inner_text()
    folder = fake_pi.media / "sdz1" / "kru-sync" / device
    assert len(list(folder.glob("*.ndjson.gz"))) == 1  # 140 events fit one batch
    with page.expect_navigation():
        page.locator("#backup .stick form:last-of-type button").click()  # Eject
    # The stick goes to the ministry: central imports it and writes its acknowledgement.
    helper(fake_pi, "mount-sdz1-rw")
    try:
        out = central.cli("import", str(fake_pi.media / "sdz1"))
    finally:
        helper(fake_pi, "eject-sdz1")
    assert '"stored": 140' in out.stdout
    assert central_counts(central.data_dir)["ids"] == set(ids)
    # Back at the site: opening the stick reads the acknowledgement.
    page.goto("/admin/")
    with page.expect_navigation():
        page.locator("#backup form[data-device=sdz1] button").click()
    received = km(
        "The ministry's server received the learning records saved on this stick; "
        "%(count)s records still wait to be sent.",
        count="០",
    )
    assert received in page.locator("main").inner_text()
    assert km("The ministry has every learning record of this site.") in card.inner_text()


def test_saving_to_a_stick_pulled_out_says_so(page, site, fake_pi):
    """Saving to a stick that is not open (pulled out meanwhile) names the problem."""
    sign_in(page, "admin")
    page.goto("/admin/")
    opener = page.locator("#backup form[data-device=sdz1] button")
    if opener.count():
        with page.expect_navigation():
            opener.click()
    helper(fake_pi, "eject-sdz1")  # pulled out without Eject
    with page.expect_navigation():
        page.locator("#usb-sync button").click()
    errors = page.locator(".flash.error").all_inner_texts()
    said = km("The USB stick %(device)s is not open; plug it in and press Open", device="sdz1")
    english = "The USB stick sdz1 is not open; plug it in and press Open"
    assert any(said in e or english in e for e in errors), errors


def _online(site: Site) -> object:
    db = site.open()
    try:
        return Agent(site.settings, site.home, db).run()
    finally:
        db.close()


def _machine(root: Path, name: str) -> list[str]:
    path = root / f"{name}.machine-id"
    path.write_text(f"{name}-0123456789abcdef0123456789\n")
    return [str(path)]


def test_central_lists_sites_that_need_attention_and_resolves_a_clash(browser, central, tmp_path):
    flags = tmp_path / "get_throttled"
    flags.write_text("throttled=0x50005\n")
    weak = make_site(
        tmp_path,
        "ctc-weak",
        **{
            "system.throttled_file": flags,
            "disk.warn_mb": 100_000_000,
            "sync.machine_id_files": _machine(tmp_path, "weak"),
        },
    )
    central.provision(weak, name="CTC ស្វាយរៀង", province="ស្វាយរៀង")
    assert _online(weak).caught_up
    first = make_site(tmp_path, "tec-first", **{"sync.machine_id_files": _machine(tmp_path, "one")})
    central.provision(first, name="TEC បាត់ដំបង", province="បាត់ដំបង")
    assert _online(first).caught_up
    shutil.copytree(first.home.root, tmp_path / "tec-second")
    second = make_site(
        tmp_path, "tec-second", **{"sync.machine_id_files": _machine(tmp_path, "two")}
    )
    assert _online(second).code == "rejected"
    context = new_phone_context(browser, central.url)
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("#username", "admin1")
        page.fill("#password", "lotus-pond-7")
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()
        to_khmer(page)
        fleet = page.locator("#fleet-health")
        text = fleet.inner_text()
        assert km("weak power supply (under-voltage)") in text
        assert km("identity clash") in text
        assert "TEC បាត់ដំបង" in text and "CTC ស្វាយរៀង" in text
        page.locator("#fleet").scroll_into_view_if_needed()
        shots = screenshot_dir(tmp_path / "shots", "central")
        fleet.screenshot(path=str(shots / "km-fleet-health.png"))
        use(page, "en")
        fleet.screenshot(path=str(shots / "en-fleet-health.png"))
        to_khmer(page)
        with page.expect_navigation():
            fleet.locator("button.danger").click()
        assert (
            km("The new Pi now syncs as this site; the old one is refused from now on.")
            in page.locator(".flash.success").inner_text()
        )
        assert km("identity clash") not in page.locator("#fleet-health").inner_text()
    finally:
        context.close()
    assert _online(second).caught_up
