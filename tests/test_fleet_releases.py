"""Kru releases sent by central (issue 20 item 3) and site update sticks (item 5), with a real
central server and real sites: a release signed offline is added and assigned on central; at
sync the site downloads it resumably, checks its signature against the keys of its image,
stages it for the root helper and reports; a bad signature changes nothing. The switch and
the rollback themselves run as root in the chroot test (test_deploy_upgrade).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from content_packs.models import Pack
from edge_server.site.database import open_site
from sync import release_record as rr
from sync.edge import releases, update_stick
from sync.edge.agent import sync_once as agent_sync_once
from tests.bundle_factory import make_bundle
from tests.conftest import form_csrf
from tests.fleet_support import CountingProxy, random_files, signed_pack, signing_key
from tests.sync_support import CentralServer, make_site

MB = 1024 * 1024
KRU = [sys.executable, "-m", "edge_server.cli"]
FAKE_HELPER = Path(__file__).parent / "fake_kru_helper.py"


def kru(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KRU, *(str(a) for a in args)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def release_bundle(root: Path, version: str, key: Path, size: int = 64 * 1024) -> Path:
    """A bundle tarball for this machine, signed with ``kru release sign`` as offline."""
    name = f"kru-bundle-{version}-{platform.machine()}"
    folder = make_bundle(root / name, platform.machine(), os.urandom(size), version)
    tar = root / f"{name}.tar.gz"
    with tarfile.open(tar, "w:gz", compresslevel=1) as tf:
        tf.add(folder, arcname=name)
    signed = kru("release", "sign", tar, "--key", key)
    assert signed.returncode == 0, signed.stderr
    return tar


@pytest.fixture
def keys(tmp_path: Path) -> dict:
    """The ministry's release key, a stranger's, and the keys folder of the site's image."""
    folder = tmp_path / "image-release-keys"
    folder.mkdir()
    out: dict = {"keys_dir": folder}
    for name in ("ministry", "stranger"):
        made = kru("release", "keygen", "-o", tmp_path / f"{name}.key")
        assert made.returncode == 0, made.stderr
        out[name] = tmp_path / f"{name}.key"
        out[f"{name}_pub"] = made.stdout.strip()
        if name == "ministry":
            (folder / "ministry.pub").write_text(made.stdout)
    return out


@pytest.fixture
def central(tmp_path: Path):
    server = CentralServer(tmp_path / "central")
    server.start()
    yield server
    server.stop()


def helper_settings(tmp_path: Path) -> list[str]:
    config = tmp_path / "helper.json"
    config.write_text(json.dumps({"log": str(tmp_path / "helper.log"), "root": str(tmp_path)}))
    return [sys.executable, str(FAKE_HELPER), str(config), "{request}"]


def helper_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "helper.log"
    return log.read_text().split() if log.exists() else []


def site_settings(site, tmp_path: Path, url: str, keys_dir: Path, **more):
    return site.settings.replace(
        sync__central_url=url,
        releases__keys_dir=str(keys_dir),
        system__helper=helper_settings(tmp_path),
        **more,
    )


def sync_once(settings):
    home, db = open_site(settings)
    try:
        return agent_sync_once(settings, home, db)
    finally:
        db.close()


def status(central: CentralServer) -> dict[str, list[str]]:
    out = central.cli("release", "status").stdout
    return {line.split("\t")[0]: line.split("\t")[1:] for line in out.splitlines()}


def test_signature_record_covers_the_bundle_and_names_its_signer(tmp_path: Path, keys) -> None:
    tar = release_bundle(tmp_path, "0.2.0", keys["ministry"])
    sig = rr.sig_path(tar).read_bytes()
    trusted = rr.trusted_keys(keys["keys_dir"])
    made = rr.verify(tar, sig, trusted)
    assert (made.version, made.arch, made.sha256) == (
        "0.2.0",
        platform.machine(),
        rr.file_sha256(tar),
    )

    record = json.loads(sig)
    for field, value in (("version", "0.2.1"), ("sha256", "0" * 64), ("size", 1)):
        forged = json.dumps({**record, field: value}).encode()
        with pytest.raises(rr.BadRelease, match="damaged"):
            rr.verify(tar, forged, trusted)
    with tar.open("r+b") as fh:  # one byte changed after signing
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 1]))
    with pytest.raises(rr.BadRelease, match="checksum differs"):
        rr.verify(tar, sig, trusted)
    with pytest.raises(rr.UntrustedRelease, match="trusts no release key"):
        rr.verify(tar, sig, [])


def test_central_adds_assigns_and_the_site_downloads_resumably_stages_and_reports(
    tmp_path: Path, central: CentralServer, keys
) -> None:
    central.env["KRU_CENTRAL_RELEASE_KEYS_DIR"] = str(keys["keys_dir"])
    tar = release_bundle(tmp_path, "0.2.0", keys["ministry"], size=6 * MB)
    added = central.cli("release", "add", str(tar))
    assert "Kru 0.2.0" in added.stdout and "added" in added.stdout
    assert "already in the library" in central.cli("release", "add", str(tar)).stdout
    site = make_site(tmp_path, "kandal")
    device = central.provision(site, province="Kandal")
    central.cli("release", "assign", "0.2.0", "--province", "Kandal")
    assert "province:Kandal" in central.cli("release", "list").stdout

    proxy = CountingProxy(central.port)
    try:
        settings = site_settings(site, tmp_path, proxy.url, keys["keys_dir"])
        proxy.cut_after = tar.stat().st_size // 2
        sync_once(settings)
        assert proxy.cuts == 1
        parts = list((site.home.root / "downloads").glob("*.part"))
        assert len(parts) == 1 and 0 < parts[0].stat().st_size < tar.stat().st_size
        state = releases.read_state(site.home)
        assert state["state"] == "pending" and "resumes" in state["reason"]
        assert helper_calls(tmp_path) == []
        assert status(central)[device][:3] == ["0.2.0", "0.1.0", "pending"]

        proxy.down = 0
        sync_once(settings)
        # Resumed: the rest of the bundle, not all of it again.
        assert proxy.down < tar.stat().st_size * 0.6 + 256 * 1024
    finally:
        proxy.close()
    staged = releases.incoming(site.home) / releases.BUNDLE
    assert rr.file_sha256(staged) == rr.file_sha256(tar)
    assert json.loads(rr.sig_path(staged).read_text()) == json.loads(rr.sig_path(tar).read_text())
    assert helper_calls(tmp_path) == ["upgrade"]
    assert not (site.home.root / "downloads" / rr.file_sha256(tar)).exists()  # moved, not copied
    row = status(central)[device]
    assert row[:3] == ["0.2.0", "0.1.0", "pending"] and "waiting for the switch" in row[3]

    # The root side records a rollback (kru-upgrade writes state.json): central hears of it.
    releases.write_state(
        site.home,
        version="0.2.0",
        sha256=rr.file_sha256(tar),
        state="failed",
        code="health_failed",
        reason="Kru 0.2.0 did not answer /healthz within 180 s; rolled back to 0.1.0",
    )
    sync_once(settings)
    row = status(central)[device]
    assert row[:3] == ["0.2.0", "0.1.0", "failed"] and "rolled back to 0.1.0" in row[3]
    assert row[3].startswith("[health_failed] ")
    assert helper_calls(tmp_path) == ["upgrade"]  # a failed release is not tried again


def test_a_release_signed_by_an_untrusted_key_is_refused_and_nothing_changes(
    tmp_path: Path, central: CentralServer, keys
) -> None:
    # Central trusts a key the site's image does not (a key added on central only): the site
    # still checks against its own keys.
    central_keys = tmp_path / "central-release-keys"
    central_keys.mkdir()
    (central_keys / "other.pub").write_text(keys["stranger_pub"] + "\n")
    central.env["KRU_CENTRAL_RELEASE_KEYS_DIR"] = str(central_keys)
    tar = release_bundle(tmp_path, "0.3.0", keys["stranger"], size=1 * MB)
    central.cli("release", "add", str(tar))
    site = make_site(tmp_path, "takeo")
    device = central.provision(site, province="Takeo")
    central.cli("release", "assign", "0.3.0", "--site", device)
    settings = site_settings(site, tmp_path, central.url, keys["keys_dir"])
    sync_once(settings)
    state = releases.read_state(site.home)
    assert state["state"] == "failed"
    assert "signed by a key this Pi does not trust" in state["reason"]
    assert not (releases.incoming(site.home) / releases.BUNDLE).exists()
    assert helper_calls(tmp_path) == []
    downloaded = site.home.root / "downloads" / rr.file_sha256(tar)
    assert not downloaded.exists()
    row = status(central)[device]
    assert row[2] == "failed" and "does not trust" in row[3]


def test_cli_errors_are_one_line_and_change_nothing(tmp_path: Path, keys) -> None:
    tar = release_bundle(tmp_path, "0.2.0", keys["ministry"])
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a bundle")
    central = CentralServer(tmp_path / "central")
    central.env["KRU_CENTRAL_RELEASE_KEYS_DIR"] = str(keys["keys_dir"])
    site = make_site(tmp_path, "kampot")
    site_env = {**site.env(), "KRU_RELEASES_KEYS_DIR": str(keys["keys_dir"])}
    (tmp_path / "s").mkdir()
    stranger = release_bundle(tmp_path / "s", "0.4.0", keys["stranger"])
    no_sig = tmp_path / "nosig" / tar.name
    no_sig.parent.mkdir()
    no_sig.write_bytes(tar.read_bytes())

    cases = [
        (kru("release", "sign", tmp_path / "missing.tar.gz", "--key", keys["ministry"]), "no file"),
        (kru("release", "sign", junk, "--key", keys["ministry"]), "is not a Kru bundle"),
        (kru("release", "sign", tar, "--key", tmp_path / "nokey"), "does not exist"),
        (kru("release", "apply", no_sig, env=site_env), "no signature"),
        (kru("release", "apply", stranger, env=site_env), "does not trust"),
        (kru("release", "verify", tar, "--keys", tmp_path / "empty"), "trusts no release key"),
        (central.cli("release", "add", str(no_sig), check=False), "No signature"),
        (central.cli("release", "add", str(junk), check=False), "No signature"),
        (central.cli("release", "assign", "9.9.9", "--all", check=False), "No Kru 9.9.9"),
        (central.cli("release", "assign", "0.2.0", check=False), "exactly one"),
        (central.cli("stick", "write", str(tmp_path), check=False), "one site or one province"),
        (
            central.cli("stick", "write", str(tmp_path), "--province", "Kep", check=False),
            "Nothing is assigned to Kep",
        ),
    ]
    for done, words in cases:
        assert done.returncode == 1, (done.args, done.stdout)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (done.args, done.stderr)
    assert not releases.incoming(site.home).exists()
    ok = kru("release", "verify", tar, "--keys", keys["keys_dir"])
    assert ok.returncode == 0 and ok.stdout.split()[:2] == ["0.2.0", platform.machine()]


def _library_files(central: CentralServer) -> list[Path]:
    return [p for p in (central.data_dir / "library").rglob("*") if p.is_file()]


def test_central_refuses_a_release_its_trusted_keys_did_not_sign_and_stores_nothing(
    tmp_path: Path, central_on_both, keys
) -> None:
    """Central checks the signer against its own keys (central.release_keys_dir), SQLite and
    PostgreSQL: a release the sites would refuse is refused at upload, nothing is kept."""
    central, _url = central_on_both
    central.env["KRU_CENTRAL_RELEASE_KEYS_DIR"] = str(keys["keys_dir"])
    (tmp_path / "s").mkdir()
    stranger = release_bundle(tmp_path / "s", "0.4.0", keys["stranger"])
    done = central.cli("release", "add", str(stranger), check=False)
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Kru 0.4.0 is signed by key" in lines[0] and "central does not trust" in lines[0]
    assert keys["stranger_pub"][:12] in lines[0] and str(keys["keys_dir"]) in lines[0]
    assert central.cli("release", "list").stdout == ""
    assert _library_files(central) == []
    refused = central.cli("release", "assign", "0.4.0", "--all", check=False)
    assert refused.returncode == 1 and "No Kru 0.4.0" in refused.stderr

    # The ministry's key: added, and the listing names the trusted key that signed it.
    tar = release_bundle(tmp_path, "0.2.0", keys["ministry"])
    added = central.cli("release", "add", str(tar))
    assert f"key ministry {keys['ministry_pub']}" in added.stdout and "added" in added.stdout
    assert central.cli("release", "list").stdout.startswith("0.2.0\t")
    assert len(_library_files(central)) == 1


def test_central_with_no_trusted_release_key_adds_no_release_and_says_where_keys_go(
    tmp_path: Path, central_on_both, keys
) -> None:
    central, _url = central_on_both
    empty = tmp_path / "central-release-keys"
    empty.mkdir()
    (empty / "README").write_text("not a key\n")
    (empty / "broken.pub").write_text("not base64 at all\n")
    tar = release_bundle(tmp_path, "0.2.0", keys["ministry"])
    for folder in (empty, tmp_path / "missing"):
        central.env["KRU_CENTRAL_RELEASE_KEYS_DIR"] = str(folder)
        done = central.cli("release", "add", str(tar), check=False)
        assert done.returncode == 1, done.stdout
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Central trusts no release key" in lines[0], done.stderr
        assert f"in {folder} (setting central.release_keys_dir)" in lines[0]
    assert central.cli("release", "list").stdout == ""
    assert _library_files(central) == []


def test_site_update_stick_for_a_province_installs_its_packs_and_stages_its_release(
    tmp_path: Path, keys
) -> None:
    pack_key, pack_public = signing_key(tmp_path / "pack-key")
    central = CentralServer(tmp_path / "central")
    central.env["KRU_PACKS_TRUSTED_KEYS"] = pack_public
    central.env["KRU_CENTRAL_RELEASE_KEYS_DIR"] = str(keys["keys_dir"])
    pack = signed_pack(tmp_path, pack_key, "1.0.0", random_files({"media/a.bin": 2 * MB}))
    central.cli("pack", "add", str(pack))
    tar = release_bundle(tmp_path, "0.2.0", keys["ministry"], size=2 * MB)
    central.cli("release", "add", str(tar))
    site = make_site(tmp_path, "kandal")
    central.provision(site, province="Kandal")
    central.cli("pack", "assign", "fleet-pack", "--province", "Kandal")
    central.cli("release", "assign", "0.2.0", "--all")
    stick = tmp_path / "stick"
    stick.mkdir()
    wrote = central.cli("stick", "write", str(stick), "--province", "Kandal")
    assert "1 packs and 1 releases" in wrote.stdout
    index = json.loads((stick / "kru-update" / "update.json").read_text())
    assert index["for"] == {"province": "Kandal"}

    settings = site.settings.replace(
        packs__trusted_keys=[pack_public],
        packs__allow_unsigned=False,
        releases__keys_dir=str(keys["keys_dir"]),
        system__helper=helper_settings(tmp_path),
    )
    home, db = open_site(settings)
    try:
        got = update_stick.read(stick)
        assert [b["name"] for b in got["bundles"]] == [tar.name]
        outcome = update_stick.install(settings, home, stick)
        assert outcome.installed == ["fleet-pack 1.0.0"] and outcome.failed == []
        assert outcome.release == "0.2.0"
        assert {p.pack_id: p.version for p in Pack.select()} == {"fleet-pack": "1.0.0"}
        again = update_stick.install(settings, home, stick)
        assert again.unchanged[0] == "fleet-pack 1.0.0"
    finally:
        db.close()
    assert rr.file_sha256(releases.incoming(site.home) / releases.BUNDLE) == rr.file_sha256(tar)
    assert helper_calls(tmp_path)[0] == "upgrade"


def test_the_kru_version_card_says_why_an_upgrade_was_rolled_back_in_khmer(
    client, login_as, app
) -> None:
    home = app.config["KRU_HOME"]
    releases.write_state(
        home,
        version="0.2.0",
        sha256="0" * 64,
        state="failed",
        code="migration_failed",
        reason="the migration of 0.2.0 failed: no such table: x; rolled back to 0.1.0",
    )
    login_as("admin")
    card = client.get("/admin/").get_data(as_text=True).split('id="kru-version"')[1]
    card = card.split("</section>")[0]
    assert "កំណែថ្មីមិនអាចធ្វើបច្ចុប្បន្នភាពមូលដ្ឋានទិន្នន័យបានទេ" in card
    assert "the migration of 0.2.0 failed" in card  # the detail, as the root side wrote it
    # A code this version does not know (a newer root script): the detail alone.
    releases.write_state(
        home, version="0.2.0", sha256="0" * 64, state="failed", code="new_code", reason="why"
    )
    card = client.get("/admin/").get_data(as_text=True).split('id="kru-version"')[1]
    assert "why" in card and "reason-words" not in card.split("</section>")[0]


def test_the_kru_version_card_lists_what_a_rollback_could_not_carry_back(
    client, login_as, app
) -> None:
    home = app.config["KRU_HOME"]
    failed_db = str(home.root / "backups" / "failed-upgrade-0.2.0-20261202T100000Z.sqlite3")
    releases.write_state(
        home,
        version="0.2.0",
        sha256="0" * 64,
        state="failed",
        code="health_failed",
        reason="Kru 0.2.0 did not answer /healthz; rolled back to 0.1.0",
        carried_back={"events": 2, "task_submissions": 1},
        failed_db=failed_db,
        not_carried=[
            {"table": "upgrade_probe", "rows": 2, "why": "new_table"},
            {"table": "packs", "rows": 1, "why": "content"},
            {"table": "<b>x</b>", "rows": "many", "why": "shape"},  # not this shape: skipped
            "junk",
        ],
    )
    login_as("admin")
    client.post("/language", data={"lang": "km"})
    card = client.get("/admin/").get_data(as_text=True).split('id="kru-version"')[1]
    card = card.split("</section>")[0]
    notice = card.split('id="not-carried-back"')[1]
    assert failed_db in notice
    assert "មិនបាត់បង់ទេ" in notice  # "they are not lost", in Khmer
    assert 'data-table="upgrade_probe" data-why="new_table"' in notice
    assert "តារាងនេះថ្មីនៅក្នុងកំណែដែលបរាជ័យ" in notice and "២" in notice  # Khmer digits
    assert 'data-why="content"' in notice and "សូមដំឡើងវាម្តងទៀត" in notice
    assert "&lt;b&gt;" not in notice and "<b>x" not in notice

    # An upgrade that carried everything back: no notice.
    releases.write_state(
        home,
        version="0.2.0",
        sha256="0" * 64,
        state="failed",
        code="health_failed",
        reason="r",
        not_carried=[],
        failed_db=failed_db,
    )
    assert 'id="not-carried-back"' not in client.get("/admin/").get_data(as_text=True)


def test_the_kru_version_card_names_what_came_back_in_words_with_new_and_merged_rows(
    client, login_as, app
) -> None:
    releases.write_state(
        app.config["KRU_HOME"],
        version="0.2.0",
        sha256="0" * 64,
        state="failed",
        code="health_failed",
        reason="rolled back to 0.1.0",
        carried_back={"task_submissions": 2, "events": 5, "odd<b>": 1, "junk": "many"},
        merged_back={"f2f_attendance": 7, "task_submissions": 3, "users": 0},
        not_carried=[{"table": "users", "rows": 2, "why": "conflict"}],
        failed_db="/var/lib/kru/backups/failed-upgrade-0.2.0-20261202T100000Z.sqlite3",
    )
    login_as("admin")
    page = client.get("/admin/").get_data(as_text=True)
    client.post("/language", data={"lang": "en", "csrf_token": form_csrf(page), "next": "/admin/"})
    card = client.get("/admin/").get_data(as_text=True).split('id="kru-version"')[1]
    back = card.split('id="carried-back"')[1].split("</ul>")[0]
    assert "<strong>submitted work</strong>: new: 2, changes kept: 3" in back
    assert "<strong>attendance</strong>: changes kept: 7" in back
    assert "<strong>learning records</strong>: new: 5" in back
    assert "<code>odd&lt;b&gt;</code>" in back  # no words for it: its name, escaped
    assert "junk" not in back and "accounts" not in back  # odd counts and zeros left out
    kept = card.split('id="not-carried-back"')[1]
    assert "<strong>accounts</strong>: rows: 2 — changed after the switch, but the older" in kept
