"""A pack edited on the site meets a newer official version from central (issue 17, item 4).

A real central server assigns ``fleet-pack`` 1.0.0; the site's editor publishes
``1.0.0+kandal.1``; central then assigns 2.0.0. The agent holds 2.0.0 until an admin
chooses, and the admin is shown what the local version changed; "official" installs it at
the next sync, "local" keeps the site's version and stops fetching that content.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from content_packs.authoring import drafts, publish
from content_packs.authoring.models import DraftItem
from edge_server.site.database import open_site
from sync.edge import downloads, local_versions
from tests.fleet_support import random_files, signed_pack, signing_key
from tests.livesite import KRU
from tests.sync_support import CentralServer, make_site
from tests.test_fleet_packs import _installed, _site_settings, sync_once

MB = 1024 * 1024


def _kru(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", "KRU_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [*KRU, "--data-dir", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


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


def _edit_and_publish(settings) -> str:
    """Open the installed pack as a draft, change its lesson, publish; return the version."""
    home, db = open_site(settings)
    try:
        draft = publish.open_pack("fleet-pack", home, "sokha")
        item = DraftItem.get(DraftItem.draft == draft.id)
        drafts.update_item(
            draft.id, item.id, {"revision": draft.revision, "body_md": "# កែនៅសាលា\n"}, "sokha"
        )
        return publish.publish(draft.id, settings, home, "sokha").version
    finally:
        db.close()


def _waiting(settings) -> list[dict]:
    home, db = open_site(settings)
    try:
        return local_versions.waiting(home, downloads.read_state(home)["packs"])
    finally:
        db.close()


@pytest.mark.parametrize("choice", ["official", "local"])
def test_a_newer_official_version_waits_for_the_admin(tmp_path, central, key, choice):
    files = random_files({"media/a.bin": 2 * MB})
    central.cli("pack", "add", str(signed_pack(tmp_path / "v1", key[0], "1.0.0", files)))
    site = make_site(tmp_path, "kandal")
    central.provision(site, province="Kandal")
    central.cli("pack", "assign", "fleet-pack", "--province", "Kandal")
    settings = _site_settings(site, central.url, key[1], https__site_label="kandal")
    sync_once(settings)
    assert _installed(site) == {"fleet-pack": "1.0.0"}

    assert _edit_and_publish(settings) == "1.0.0+kandal.1"
    sync_once(settings)  # central still assigns 1.0.0: the site's edit stays
    assert _installed(site) == {"fleet-pack": "1.0.0+kandal.1"}

    files["media/b.bin"] = random_files({"b": MB})["b"]
    central.cli("pack", "add", str(signed_pack(tmp_path / "v2", key[0], "2.0.0", files)))
    sync_once(settings)
    assert _installed(site) == {"fleet-pack": "1.0.0+kandal.1"}  # held, not replaced
    state = downloads.read_state(site.home)["packs"]["fleet-pack"]
    assert state["state"] == "pending" and "admin" in state["reason"]
    [waiting] = _waiting(settings)
    assert (waiting["local_version"], waiting["official_version"]) == ("1.0.0+kandal.1", "2.0.0")
    [edit] = waiting["edits"]
    assert edit["published_by"] == "sokha" and edit["changes"]["changed"] == ["welcome"]

    if choice == "official":
        home, db = open_site(settings)
        try:
            packs = downloads.read_state(home)["packs"]
            local_versions.choose(home, packs, "fleet-pack", choice, "admin")
        finally:
            db.close()
    else:  # the same choice from the command line, which lists the local edits
        chosen = _kru(site.home.root, "pack", "choose", "fleet-pack", "local")
        assert chosen.returncode == 0, chosen.stderr
        assert chosen.stdout.splitlines()[0].startswith("1.0.0+kandal.1\tsokha\tchanged welcome")
    sync_once(settings)
    if choice == "official":
        assert _installed(site) == {"fleet-pack": "2.0.0"}
        assert _waiting(settings) == []
    else:
        assert _installed(site) == {"fleet-pack": "1.0.0+kandal.1"}
        state = downloads.read_state(site.home)["packs"]["fleet-pack"]
        assert state["state"] == "installed" and "kept" in state["reason"]
        assert not list((site.home.root / "downloads").glob("*.part"))


def test_a_choice_with_nothing_waiting_is_refused(tmp_path):
    site = make_site(tmp_path, "takeo")
    refused = _kru(site.home.root, "pack", "choose", "fleet-pack", "official")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "Error: No version of fleet-pack from central is waiting for a choice"
    ]
    with pytest.raises(local_versions.NothingToChoose):
        local_versions.choose(site.home, {}, "fleet-pack", "official", "admin")
    with pytest.raises(local_versions.ValidationError):
        local_versions.choose(site.home, {}, "fleet-pack", "both", "admin")
