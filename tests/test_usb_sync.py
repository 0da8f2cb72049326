"""Sync by USB drive mixed with online sync, against a real central server (issue 20 item 4).

Every interleaving ends with central holding each event of the site exactly once, and the
site's cursor moving only on central's acknowledgement, never back.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

from sync import usb_protocol
from sync.edge import state
from sync.edge.agent import Agent
from tests.sync_support import KRU, CentralServer, Site, add_events, central_counts, make_site

BATCH = {"sync.batch_size": 60, "sync.max_batch_size": 60}


def kru_site(site: Site, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [KRU, "--data-dir", str(site.home.root), "sync", *args],
        env={**site.env(), "KRU_SYNC_BATCH_SIZE": "60", "KRU_SYNC_MAX_BATCH_SIZE": "60"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cursor(site: Site) -> int:
    db = site.open()
    try:
        return state.read_state(db).cursor
    finally:
        db.close()


def online(site: Site, **kwargs):  # an in-process agent run
    db = site.open()
    try:
        return Agent(site.settings, site.home, db, **kwargs).run()
    finally:
        db.close()


def central_import(central: CentralServer, drive: Path) -> subprocess.CompletedProcess:
    return central.cli("import", str(drive), check=False)


def central_rows(central: CentralServer, sql: str, args: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(central.data_dir / "central.sqlite3")
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def exactly_once(central: CentralServer, ids: list[str]) -> None:
    counts = central_counts(central.data_dir)
    assert counts["total"] == len(ids) == counts["distinct"]
    assert counts["ids"] == set(ids)


def test_export_then_import_then_ack_file_moves_the_cursor(tmp_path, central):
    site = make_site(tmp_path, "tec-usb", **BATCH)
    device = central.provision(site)
    ids = add_events(site, 250)
    drive = tmp_path / "drive"
    drive.mkdir()
    out = kru_site(site, "export", str(drive))
    assert out.returncode == 0, out.stderr
    assert "Wrote 250 events in 5 batches" in out.stdout
    assert cursor(site) == 0  # exporting is not an acknowledgement
    folder = drive / "kru-sync" / device
    assert len(list(folder.glob("*.ndjson.gz"))) == 5
    out = central_import(central, drive)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["stored"] == 250 and report["acks"] == {device: 250}
    exactly_once(central, ids)
    assert central_rows(central, "SELECT COUNT(*) FROM sync_batches WHERE via = 'usb'") == [(5,)]
    # A replayed import stores nothing.
    again = json.loads(central_import(central, drive).stdout)
    assert again["stored"] == 0 and again["replays"] == 5
    exactly_once(central, ids)
    out = kru_site(site, "import-ack", str(drive))
    assert out.returncode == 0, out.stderr
    assert cursor(site) == 250
    # The next online sync has nothing to send.
    result = online(site)
    assert result.caught_up and result.events_sent == 0


def test_export_then_online_then_import_stores_nothing_twice(tmp_path, central):
    site = make_site(tmp_path, "tec-a", **BATCH)
    central.provision(site)
    ids = add_events(site, 180)
    drive = tmp_path / "drive"
    drive.mkdir()
    assert kru_site(site, "export", str(drive)).returncode == 0
    ids += add_events(site, 30)
    result = online(site)
    assert result.caught_up and result.events_sent == 210
    exactly_once(central, ids)
    report = json.loads(central_import(central, drive).stdout)
    assert report["stored"] == 0 and report["batches"] == 3
    exactly_once(central, ids)
    assert kru_site(site, "import-ack", str(drive)).returncode == 0
    assert cursor(site) == 210  # the older acknowledgement does not move it back


def test_import_then_online_sends_only_what_central_lacks(tmp_path, central):
    site = make_site(tmp_path, "tec-b", **BATCH)
    central.provision(site)
    ids = add_events(site, 200)
    drive = tmp_path / "drive"
    drive.mkdir()
    assert kru_site(site, "export", str(drive)).returncode == 0
    assert json.loads(central_import(central, drive).stdout)["stored"] == 200
    ids += add_events(site, 25)
    # The drive never comes back: the online sync learns central's acknowledgement.
    result = online(site)
    assert result.caught_up and result.events_sent == 25
    assert cursor(site) == 225
    exactly_once(central, ids)


def test_two_exports_before_any_ack(tmp_path, central):
    site = make_site(tmp_path, "tec-c", **BATCH)
    central.provision(site)
    ids = add_events(site, 130)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    assert kru_site(site, "export", str(first)).returncode == 0
    ids += add_events(site, 70)
    assert kru_site(site, "export", str(second)).returncode == 0
    # The newer drive arrives first, then the older one.
    assert json.loads(central_import(central, second).stdout)["stored"] == 200
    report = json.loads(central_import(central, first).stdout)
    assert report["stored"] == 0 and report["acks"] == {site_device(site): 200}
    exactly_once(central, ids)
    assert kru_site(site, "import-ack", str(first)).returncode == 0
    assert cursor(site) == 200


def site_device(site: Site) -> str:
    from sync.edge.identity import load_identity

    return load_identity(site.home).device_id


def test_old_ack_file_after_newer_online_ack_never_moves_back(tmp_path, central):
    site = make_site(tmp_path, "tec-d", **BATCH)
    central.provision(site)
    ids = add_events(site, 90)
    drive = tmp_path / "drive"
    drive.mkdir()
    assert kru_site(site, "export", str(drive)).returncode == 0
    assert json.loads(central_import(central, drive).stdout)["acks"] == {site_device(site): 90}
    ids += add_events(site, 40)
    assert online(site).events_sent == 40
    assert cursor(site) == 130
    out = kru_site(site, "import-ack", str(drive))
    assert out.returncode == 0, out.stderr
    assert cursor(site) == 130
    exactly_once(central, ids)


def test_tampered_batch_file_is_refused_and_nothing_stored(tmp_path, central):
    site = make_site(tmp_path, "tec-e", **BATCH)
    device = central.provision(site)
    add_events(site, 60)
    drive = tmp_path / "drive"
    drive.mkdir()
    assert kru_site(site, "export", str(drive)).returncode == 0
    sidecar = next((drive / "kru-sync" / device).glob("*.json"))
    body = sidecar.with_name(sidecar.name.replace(".json", ".ndjson.gz"))
    data = bytearray(body.read_bytes())
    data[len(data) // 2] ^= 0xFF
    body.write_bytes(bytes(data))
    out = central_import(central, drive)
    assert out.returncode == 1
    assert "refused" in out.stderr and "digest" in out.stderr
    assert central_counts(central.data_dir)["total"] == 0
    # A sidecar re-signed without the secret is refused too.
    body.write_bytes(bytes(data))
    meta = json.loads(sidecar.read_text())
    import hashlib

    meta["headers"]["X-Kru-Content-SHA256"] = hashlib.sha256(bytes(data)).hexdigest()
    sidecar.write_text(json.dumps(meta))
    out = central_import(central, drive)
    assert out.returncode == 1 and "signature" in out.stderr
    assert central_counts(central.data_dir)["total"] == 0


def test_forged_ack_file_is_refused(tmp_path, central):
    site = make_site(tmp_path, "tec-f", **BATCH)
    device = central.provision(site)
    add_events(site, 70)
    drive = tmp_path / "drive"
    drive.mkdir()
    assert kru_site(site, "export", str(drive)).returncode == 0
    ack_path = drive / "kru-sync" / device / usb_protocol.ACK_FILE
    out = kru_site(site, "import-ack", str(drive))
    assert out.returncode == 1 and "no acknowledgement" in out.stderr
    # Someone writes an acknowledgement of everything, without central's signature.
    forged = usb_protocol.sign_ack(
        "0" * 64,
        {"device": device, "acked_seq": 70, "server_time": 1, "batches": []},
    )
    ack_path.write_text(json.dumps(forged))
    out = kru_site(site, "import-ack", str(drive))
    assert out.returncode == 1 and "not signed by the central server" in out.stderr
    assert cursor(site) == 0
    # A real one, edited to claim more, is refused as well.
    assert central_import(central, drive).returncode == 0
    real = json.loads(ack_path.read_text())
    assert real["acked_seq"] == 70
    real["acked_seq"] = 10_000
    ack_path.write_text(json.dumps(real))
    assert kru_site(site, "import-ack", str(drive)).returncode == 1
    assert cursor(site) == 0


def test_usb_times_use_the_offset_learned_online_for_the_same_boot(tmp_path, central, monkeypatch):
    site = make_site(tmp_path, "tec-g", **BATCH)
    central.provision(site)
    skew = 3600.0  # this Pi's clock is an hour behind
    add_events(site, 60, start=time.time() - skew)  # recorded during boot "boot-1"
    drive = tmp_path / "drive"
    drive.mkdir()
    from sync.edge.identity import load_identity
    from sync.edge.usb_export import export_batches

    db = site.open()
    try:
        export_batches(
            site.settings,
            db,
            load_identity(site.home),
            drive,
            clock=lambda: time.time() - skew,
            boot="boot-1",
        )
    finally:
        db.close()
    assert central_import(central, drive).returncode == 0
    rows = central_rows(
        central,
        "SELECT COUNT(*), SUM(clock_unknown), SUM(corrected_ms = server_ms) FROM central_events",
    )
    assert rows == [(60, 60, 60)]  # boot-1 never heard online: clock unknown
    # The site comes online in the same boot: the offset is learned and applied.
    monkeypatch.setattr(usb_protocol, "current_boot", lambda: "boot-1")
    add_events(site, 6, start=time.time() - skew)
    assert online(site, clock=lambda: time.time() - skew).events_sent == 6
    offsets = central_rows(
        central,
        "SELECT MIN(corrected_ms - server_ms), MAX(corrected_ms - server_ms), "
        "SUM(clock_unknown) FROM central_events",
    )[0]
    assert abs(offsets[0] - skew * 1000) < 2000 and abs(offsets[1] - skew * 1000) < 2000
    assert offsets[2] == 0
    # A later drive from the same boot is corrected at once.
    add_events(site, 10, start=time.time() - skew)
    second = tmp_path / "second"
    second.mkdir()
    db = site.open()
    try:
        export_batches(
            site.settings,
            db,
            load_identity(site.home),
            second,
            clock=lambda: time.time() - skew,
            boot="boot-1",
        )
    finally:
        db.close()
    assert json.loads(central_import(central, second).stdout)["stored"] == 10
    latest = central_rows(
        central,
        "SELECT corrected_ms - server_ms, clock_unknown FROM central_events "
        "ORDER BY seq DESC LIMIT 10",
    )
    assert all(abs(d - skew * 1000) < 2000 and not unknown for d, unknown in latest)


def test_export_to_a_missing_folder_fails_with_one_line(tmp_path):
    site = make_site(tmp_path, "tec-h")
    out = kru_site(site, "export", str(tmp_path / "nowhere"))
    assert out.returncode == 1
    assert "does not exist" in out.stderr
