"""Events recorded after a restore reach central exactly once (issue 19 backups + sync).

The field report: a site synced up to event N, the admin restored an older backup (or
snapshot) holding events up to M < N, learners recorded new events, numbered M+1.. again;
central had acknowledged those numbers for other events, the site adopted that
acknowledgement and never sent the new events. Each test walks the admin's steps with the
real parts: the site database, ``kru backup`` / ``kru restore`` / ``kru snapshot``, the USB
restore the Site page stages, the sync agent and ``kru central serve`` (SQLite and
PostgreSQL).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import requests

from edge_server.base import snapshots
from edge_server.site import backup, usb_backup
from sync.edge import state
from tests.integrity_support import damage_table
from tests.sync_support import KRU, CentralServer, Site, add_events, central_rows, make_site
from tests.test_usb_sync import BATCH, central_import, kru_site, online


def kru(site: Site, *args: str) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [KRU, "--data-dir", str(site.home.root), *args],
        env=site.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out


def held(central: CentralServer, url: str) -> list[str]:
    """Return every event id central holds (a repeated id would show twice)."""
    return sorted(r[0] for r in central_rows(central, url, "SELECT event_id FROM central_events"))


def received(central: CentralServer, url: str) -> int:
    return central_rows(central, url, "SELECT events_received FROM devices")[0][0]


def site_events(site: Site) -> list[str]:
    db = site.open()
    try:
        return sorted(r[0] for r in db.execute_sql("SELECT id FROM events").fetchall())
    finally:
        db.close()


def synced(site: Site) -> None:
    result = online(site)
    assert result.caught_up, result.message
    assert result.pending == 0


def cursor(site: Site) -> int:
    db = site.open()
    try:
        return state.read_state(db).cursor
    finally:
        db.close()


def back_up(site: Site, stick: Path) -> Path:
    stick.mkdir(exist_ok=True)
    return Path(kru(site, "backup", str(stick)).stdout.strip())


def first_history(site: Site, central: CentralServer, stick: Path) -> tuple[list[str], Path]:
    """Sync 30 events, back up, then record and sync 40 more; return the ids and the backup."""
    central.provision(site)
    ids = add_events(site, 30)
    synced(site)
    made = back_up(site, stick)
    ids += add_events(site, 40)
    synced(site)
    return ids, made


def test_backup_restored_with_kru_restore_loses_no_new_event(tmp_path, central_on_both):
    central, url = central_on_both
    site = make_site(tmp_path, "tec-restore", **BATCH)
    before, made = first_history(site, central, tmp_path / "usb")
    kru(site, "restore", "--force", str(made))
    assert cursor(site) == 30  # the backup's own cursor
    after = add_events(site, 25)
    synced(site)
    assert held(central, url) == sorted(before + after)
    assert received(central, url) == 95
    # What central sent again of the restored events is not counted twice, nor lost later.
    more = add_events(site, 5)
    synced(site)
    assert held(central, url) == sorted(before + after + more)
    assert received(central, url) == 100


def test_backup_restored_on_a_new_card_loses_no_new_event(tmp_path, central_on_both):
    """The old database is gone (a dead SD card): the site learns central's mark at sync."""
    central, url = central_on_both
    old = make_site(tmp_path, "tec-old-card", **BATCH)
    before, made = first_history(old, central, tmp_path / "usb")
    shutil.rmtree(old.home.root)
    site = make_site(tmp_path, "tec-new-card", **BATCH)
    shutil.rmtree(site.home.root)
    kru(site, "restore", str(made))
    after = add_events(site, 25)
    synced(site)
    assert held(central, url) == sorted(before + after)
    assert received(central, url) == 95
    more = add_events(site, 5)
    synced(site)
    assert held(central, url) == sorted(before + after + more)


def test_usb_restore_from_the_site_page_loses_no_new_event(tmp_path, central_on_both):
    """The Site page's Restore: the backup is staged, then swapped in at the next start."""
    central, url = central_on_both
    site = make_site(tmp_path, "tec-usb-restore", **BATCH)
    before, made = first_history(site, central, tmp_path / "usb")
    # stage_restore's work once the stick is open (the FUSE sticks: tests/test_usb_backup.py)
    manifest = backup.read_manifest(made)
    pending = site.home.root / usb_backup.PENDING
    backup.stage(made, manifest, pending)
    (pending / backup.MANIFEST).write_text((made / backup.MANIFEST).read_text())
    assert usb_backup.apply_pending_restore(site.home)
    after = add_events(site, 25)
    synced(site)
    assert held(central, url) == sorted(before + after)
    assert received(central, url) == 95


def test_snapshot_restored_loses_no_new_event(tmp_path, central_on_both):
    central, url = central_on_both
    site = make_site(tmp_path, "tec-snapshot", **BATCH)
    central.provision(site)
    before = add_events(site, 30)
    synced(site)
    kru(site, "snapshot", "take")
    before += add_events(site, 40)
    synced(site)
    kru(site, "snapshot", "restore", "latest")
    after = add_events(site, 25)
    synced(site)
    assert held(central, url) == sorted(before + after)
    assert received(central, url) == 95


def test_unsynced_events_of_the_backup_still_reach_central(tmp_path, central_on_both):
    """Events the backup holds that central never had are sent after the restore."""
    central, url = central_on_both
    site = make_site(tmp_path, "tec-unsynced", **BATCH)
    central.provision(site)
    before = add_events(site, 30)
    synced(site)
    unsent = add_events(site, 10)  # in the backup, not yet at central
    made = back_up(site, tmp_path / "usb")
    kru(site, "restore", "--force", str(made))
    after = add_events(site, 5)
    synced(site)
    assert held(central, url) == sorted(before + unsent + after)
    assert received(central, url) == 45


def test_old_drive_imported_after_the_restore_hides_no_new_event(tmp_path, central_on_both):
    """Central learns the old database's last events from a drive only after the restore."""
    central, url = central_on_both
    site = make_site(tmp_path, "tec-late-drive", **BATCH)
    central.provision(site)
    before = add_events(site, 30)
    synced(site)
    made = back_up(site, tmp_path / "usb")
    before += add_events(site, 40)
    drive = tmp_path / "drive"
    drive.mkdir()
    assert kru_site(site, "export", str(drive)).returncode == 0  # the drive goes to central
    kru(site, "restore", "--force", str(made))
    after = add_events(site, 25)
    synced(site)  # central holds 30 of the old database and these
    assert central_import(central, drive).returncode == 0
    after += add_events(site, 20)
    synced(site)
    assert held(central, url) == sorted(before + after)
    assert received(central, url) == 115


def test_usb_only_site_restored_on_a_new_card_loses_no_new_event(tmp_path, central_on_both):
    """A site that syncs by drive only settles the restore with central's ack file."""
    central, url = central_on_both
    old = make_site(tmp_path, "tec-usb-old", **BATCH)
    before, made = first_history(old, central, tmp_path / "usb")
    shutil.rmtree(old.home.root)
    site = make_site(tmp_path, "tec-usb-new", **BATCH)
    shutil.rmtree(site.home.root)
    kru(site, "restore", str(made))
    after = add_events(site, 25)
    drive = tmp_path / "drive"
    drive.mkdir()
    assert kru_site(site, "export", str(drive)).returncode == 0
    assert central_import(central, drive).returncode == 0
    after += add_events(site, 10)  # recorded before the drive came back
    assert kru_site(site, "import-ack", str(drive)).returncode == 0
    shutil.rmtree(drive)
    drive.mkdir()
    assert kru_site(site, "export", str(drive)).returncode == 0
    assert central_import(central, drive).returncode == 0
    assert held(central, url) == sorted(before + after)
    assert received(central, url) == 105


def test_snapshot_restored_in_recovery_mode_loses_no_event(tmp_path, central_on_both, live_site):
    """A damaged database: the admin restores a snapshot older than the last sync through
    the recovery page; events salvaged from the damaged file and new ones reach central."""
    central, url = central_on_both
    site = make_site(tmp_path, "tec-recovery", **BATCH)
    central.provision(site)
    before = add_events(site, 30)
    synced(site)
    kru(site, "snapshot", "take")
    before += add_events(site, 40)
    synced(site)
    add_events(site, 10)  # central never had these; the salvage keeps what it can read
    damage_table(site.home.database, "events")
    code_file = tmp_path / "run" / "recovery-code"
    env = {**site.env(), "KRU_RECOVERY_CODE_FILE": str(code_file), "KRU_SNAPSHOTS_INTERVAL_S": "0"}
    server = live_site(env=env, data_dir=site.home.root, ready_statuses=(200, 503))
    try:
        admin = requests.Session()
        form = admin.get(f"{server.url}/recovery", timeout=10)
        choose = admin.post(
            f"{server.url}/recovery",
            data={"csrf_token": csrf(form.text), "code": code_file.read_text().strip()},
            timeout=10,
        )
        snap = snapshots.list_snapshots(site.home)[0]
        done = admin.post(
            f"{server.url}/recovery/restore",
            data={"csrf_token": csrf(choose.text), "snapshot": snap.name},
            timeout=120,
        )
        assert done.status_code == 200, done.text
    finally:
        server.stop()
    after = add_events(site, 25)
    synced(site)
    # What the salvage could not read is lost on the site; nothing else may be.
    on_site = set(site_events(site))  # with the decisions the rebuilt progress made
    assert set(after) <= on_site
    got = held(central, url)
    assert len(got) == len(set(got)) == received(central, url)
    assert set(got) == on_site | set(before)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def new_card(tmp_path: Path, central: CentralServer, name: str) -> tuple[Site, list[str], Path]:
    """Sync a site, back it up, sync more, lose its card; return a new card and the ids."""
    old = make_site(tmp_path, f"{name}-old", **BATCH)
    before, made = first_history(old, central, tmp_path / "usb")
    shutil.rmtree(old.home.root)
    site = make_site(tmp_path, f"{name}-new", **BATCH)
    shutil.rmtree(site.home.root)
    return site, before, made


def test_backup_made_between_a_restore_and_its_first_sync(tmp_path, central_on_both):
    """Events of a backup made after a restore that never synced are not skipped either."""
    central, url = central_on_both
    site, before, made = new_card(tmp_path, central, "tec-twice")
    kru(site, "restore", str(made))
    after = add_events(site, 10)  # numbered after the first restore, unknown to central
    again = back_up(site, tmp_path / "usb2")
    kru(site, "restore", "--force", str(again))
    after += add_events(site, 5)
    synced(site)
    assert held(central, url) == sorted(before + after)
    assert received(central, url) == 85


def test_unreadable_restore_note_sends_again_rather_than_skip(tmp_path, central_on_both):
    central, url = central_on_both
    site, before, made = new_card(tmp_path, central, "tec-note")
    kru(site, "restore", str(made))
    after = add_events(site, 10)
    (site.home.root / "sync-restored.json").write_text("{not json")
    synced(site)
    assert held(central, url) == sorted(before + after)
    assert received(central, url) == 80
    assert not (site.home.root / "sync-restored.json").exists()
