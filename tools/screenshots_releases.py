"""Regenerate the Kru release screenshots (issue 20): central's Releases page and the Site
page's "Kru version" card, at 360 px in Khmer and 1280 px in English.

    .venv/bin/python tools/screenshots_releases.py

A central server with one signed release assigned to a province, one site that rolled an
upgrade back (its report is what a Pi sends), and a demo site whose last upgrade failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.harness import launch_chromium, sign_in, start_demo_site  # noqa: E402
from tests.bundle_factory import make_bundle, release_keys_dir  # noqa: E402
from tests.sync_support import CentralServer, make_site  # noqa: E402
from tools.screenshots import save_png  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SIZES = {"km": {"width": 360, "height": 740}, "en": {"width": 1280, "height": 800}}
KRU = [sys.executable, "-m", "edge_server.cli"]


def signed_release(tmp: Path, version: str) -> Path:
    name = f"kru-bundle-{version}-aarch64"
    folder = make_bundle(tmp / name, "aarch64", os.urandom(1 << 20), version)
    tar = tmp / f"{name}.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(folder, arcname=name)
    key = tmp / "release.key"
    if not key.exists():
        subprocess.run([*KRU, "release", "keygen", "-o", str(key)], check=True)  # noqa: S603
    subprocess.run([*KRU, "release", "sign", str(tar), "--key", str(key)], check=True)  # noqa: S603
    return tar


def central_page(browser, tmp: Path) -> None:
    from sync.central import releases as central_releases
    from sync.central.db import open_central
    from sync.central.models import Device

    server = CentralServer(tmp / "central")
    # Central trusts the key the releases are signed with (ministry.pub), as the ministry's does.
    server.env["KRU_CENTRAL_RELEASE_KEYS_DIR"] = str(release_keys_dir(tmp))
    for version in ("0.1.0", "0.2.0"):
        server.cli("release", "add", str(signed_release(tmp, version)))
    sites = [make_site(tmp, name) for name in ("kandal-tec", "kandal-ctc", "takeo-ctc")]
    for site, province in zip(sites, ("Kandal", "Kandal", "Takeo"), strict=True):
        server.provision(site, province=province)
    server.cli("release", "assign", "0.1.0", "--all")
    server.cli("release", "assign", "0.2.0", "--province", "Kandal")
    server.cli(
        "user",
        "add",
        "--username",
        "ministry",
        "--password",
        "mekong-river-2026",
        "--role",
        "admin",
    )
    from edge_server.base.settings import load_settings

    real = open_central(load_settings(None, overrides={"data_dir": str(tmp / "central")}))
    try:
        reports = {
            "kandal-tec": {"running": "0.2.0", "version": "0.2.0", "state": "installed"},
            "kandal-ctc": {
                "running": "0.1.0",
                "version": "0.2.0",
                "state": "failed",
                "reason": "Kru 0.2.0 did not answer /healthz within 180 s; rolled back to 0.1.0; "
                "3 events recorded after the switch carried back",
            },
            "takeo-ctc": {"running": "0.1.0", "version": "0.1.0", "state": "installed"},
        }
        for device in Device.select():
            central_releases.record_report(device, {"release": reports[device.name]})
    finally:
        real.close()
    server.start()
    try:
        for code, size in SIZES.items():
            context = browser.new_context(viewport=size, base_url=server.url)
            page = context.new_page()
            sign_in(page, "ministry", "mekong-river-2026")
            page.goto("/fleet/releases")
            if page.locator("html").get_attribute("lang") != code:
                with page.expect_navigation():
                    page.locator(f"header button[name=lang][value={code}]").click()
            page.evaluate("document.fonts.ready.then(() => true)")
            path = OUT / "central" / f"{code}-releases.png"
            save_png(page.screenshot(full_page=True, animations="disabled"), path)
            print(path)
            context.close()
    finally:
        server.stop()


def site_card(browser, tmp: Path) -> None:
    site = start_demo_site(tmp / "demo")
    try:
        state = tmp / "demo" / "kru-home" / "releases" / "state.json"
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(
            json.dumps(
                {
                    "state": "failed",
                    "version": "0.2.0",
                    "sha256": "0" * 64,
                    "reason": "Kru 0.2.0 did not answer /healthz within 180 s; rolled back to "
                    "0.1.0; 3 events recorded after the switch carried back",
                }
            )
        )
        for code, size in SIZES.items():
            context = browser.new_context(viewport=size, base_url=site.url)
            page = context.new_page()
            sign_in(page, "admin")
            page.goto("/admin/")
            if page.locator("html").get_attribute("lang") != code:
                with page.expect_navigation():
                    page.locator(f"header button[name=lang][value={code}]").click()
            card = page.locator("#kru-version")
            card.scroll_into_view_if_needed()
            page.evaluate("document.fonts.ready.then(() => true)")
            path = OUT / "site" / f"{code}-site-kru-version.png"
            save_png(card.screenshot(animations="disabled"), path)
            print(path)
            context.close()
    finally:
        site.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            central_page(browser, Path(tmp))
            site_card(browser, Path(tmp))
        finally:
            browser.close()


if __name__ == "__main__":
    main()
