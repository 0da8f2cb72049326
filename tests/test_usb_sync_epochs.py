"""USB and online sync interleaved across changes of the Pi's clock (protocol 2, issue 20 item
4, issue 19 item 4), against a real central server: every event is held once, none is lost,
each clock epoch is corrected with its own offset, and an epoch never heard online is marked
"clock unknown", never given the time of the import."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from sync import usb_protocol
from sync.edge import state
from sync.edge.identity import load_identity
from sync.edge.usb_export import export_batches, import_ack
from tests.sync_support import CentralServer, Site, add_events, make_site
from tests.test_usb_sync import BATCH, central_import, central_rows, cursor, exactly_once, online

BEHIND = 2 * 3600.0  # the Pi's clock before the admin set it: two hours behind


def in_epoch(site: Site, ids: list[str], epoch: str) -> None:
    db = site.open()
    try:
        marks = ",".join("?" * len(ids))
        db.execute_sql(f"UPDATE events SET boot_id = ? WHERE id IN ({marks})", [epoch, *ids])
    finally:
        db.close()


def export(site: Site, drive: Path, epoch: str, skew: float = 0.0):
    drive.mkdir(exist_ok=True)
    db = site.open()
    try:
        return export_batches(
            site.settings,
            db,
            load_identity(site.home),
            drive,
            clock=lambda: time.time() - skew,
            boot=epoch,
        )
    finally:
        db.close()


def read_ack(site: Site, drive: Path) -> int:
    db = site.open()
    try:
        return import_ack(db, load_identity(site.home), drive, home=site.home)[1]
    finally:
        db.close()


def offsets(central: CentralServer, ids: list[str]) -> list[tuple[float | None, bool]]:
    """Return (correction in seconds, clock unknown) of each event."""
    marks = ",".join("?" * len(ids))
    rows = central_rows(
        central,
        f"SELECT event_id, corrected_ms - server_ms, clock_unknown FROM central_events "
        f"WHERE event_id IN ({marks})",
        tuple(ids),
    )
    found = {eid: (delta / 1000, bool(unknown)) for eid, delta, unknown in rows}
    return [found[i] for i in ids]


@pytest.fixture
def now_in(monkeypatch):
    """Put the site's agent in a clock epoch (the agent and its status read it)."""

    def put(epoch: str) -> None:
        monkeypatch.setattr(usb_protocol, "current_boot", lambda: epoch)

    return put


def test_usb_first_then_online_corrects_only_the_epoch_heard(tmp_path, central, now_in):
    site = make_site(tmp_path, "tec-e1", **BATCH)
    central.provision(site)
    before = add_events(site, 70, start=time.time() - BEHIND - 600)
    in_epoch(site, before, "boot-x")
    # The admin sets the clock from a browser: a new epoch; the times are right from now on.
    after = add_events(site, 50, start=time.time() - 300)
    in_epoch(site, after, "boot-x+1")
    drive = tmp_path / "drive"
    export(site, drive, "boot-x+1")
    assert json.loads(central_import(central, drive).stdout)["stored"] == 120
    # Neither epoch was heard online: stored with the Pi's times, marked, not the import time.
    assert all(o == (0, True) for o in offsets(central, before + after))
    # Internet comes in epoch boot-x+1: nothing to send (central holds it all), the status
    # report teaches boot-x+1's offset; boot-x stays unknown.
    now_in("boot-x+1")
    result = online(site)
    assert result.caught_up and result.events_sent == 0
    assert cursor(site) == 120
    assert all(abs(o) < 5 and not unknown for o, unknown in offsets(central, after))
    assert all(o == (0, True) for o in offsets(central, before))
    exactly_once(central, before + after)
    assert read_ack(site, drive) == 120  # the stick comes back late: nothing moves back


def test_an_epoch_before_the_clock_was_set_is_corrected_from_the_step(
    tmp_path, central, now_in, monkeypatch
):
    """The Pi's record of its epochs' bases travels with the batches: when the epoch after
    the clock was set is heard online, the epoch before it is corrected too."""
    site = make_site(tmp_path, "tec-e5", **BATCH)
    central.provision(site)
    before = add_events(site, 45, start=time.time() - BEHIND - 600)
    in_epoch(site, before, "boot-v")
    after = add_events(site, 15, start=time.time() - 300)
    in_epoch(site, after, "boot-v+1")
    bases = {"boot-v": 5_000_000, "boot-v+1": 5_000_000 + int(BEHIND * 1000)}
    monkeypatch.setattr(usb_protocol, "epoch_bases", lambda: bases)
    drive = tmp_path / "drive"
    export(site, drive, "boot-v+1")
    assert json.loads(central_import(central, drive).stdout)["stored"] == 60
    assert all(o == (0, True) for o in offsets(central, before + after))  # nothing heard yet
    now_in("boot-v+1")
    assert online(site).events_sent == 0  # the status report is the online contact
    assert all(abs(o) < 5 and not u for o, u in offsets(central, after))
    assert all(abs(o - BEHIND) < 5 and not u for o, u in offsets(central, before))
    exactly_once(central, before + after)


def test_online_then_clock_set_then_usb_uses_each_epochs_offset(tmp_path, central, now_in):
    site = make_site(tmp_path, "tec-e2", **BATCH)
    central.provision(site)
    now_in("boot-y")
    sent = add_events(site, 40, start=time.time() - BEHIND - 900)
    in_epoch(site, sent, "boot-y")
    assert online(site, clock=lambda: time.time() - BEHIND).events_sent == 40
    # More work in boot-y after the link went, then the clock is set (boot-y+1), more work.
    late = add_events(site, 30, start=time.time() - BEHIND - 300)
    in_epoch(site, late, "boot-y")
    fresh = add_events(site, 20, start=time.time() - 120)
    in_epoch(site, fresh, "boot-y+1")
    drive = tmp_path / "drive"
    export(site, drive, "boot-y+1")
    report = json.loads(central_import(central, drive).stdout)
    assert report["stored"] == 50 and report["acks"]
    assert all(abs(o - BEHIND) < 5 and not u for o, u in offsets(central, sent + late))
    assert all(o == (0, True) for o in offsets(central, fresh))
    assert read_ack(site, drive) == 90
    # Later the site is online in boot-y+1: its events are corrected in place.
    now_in("boot-y+1")
    assert online(site).events_sent == 0
    assert all(abs(o) < 5 and not u for o, u in offsets(central, fresh))
    exactly_once(central, sent + late + fresh)


def test_a_drive_missing_a_batch_acknowledges_only_what_is_contiguous(tmp_path, central, now_in):
    site = make_site(tmp_path, "tec-e3", **BATCH)
    central.provision(site)
    ids = add_events(site, 180)  # three batches of 60
    drive = tmp_path / "drive"
    export(site, drive, "boot-z")
    folder = drive / "kru-sync" / load_identity(site.home).device_id
    sidecars = sorted(folder.glob("*.json"), key=lambda p: json.loads(p.read_text())["after"])
    middle = sidecars[1]
    kept = tmp_path / "kept"
    kept.mkdir()
    for path in (middle, middle.with_name(middle.name.replace(".json", ".ndjson.gz"))):
        shutil.move(path, kept / path.name)  # lost on the way
    report = json.loads(central_import(central, drive).stdout)
    assert report["stored"] == 120 and report["acks"] == {folder.name: 60}
    assert read_ack(site, drive) == 60  # only the contiguous part
    now_in("boot-z")
    result = online(site)
    assert result.caught_up and result.events_sent == 120  # the gap and what follows it
    exactly_once(central, ids)
    assert cursor(site) == 180


def test_online_cut_by_the_budget_then_usb_then_online(tmp_path, central, now_in):
    site = make_site(tmp_path, "tec-e4", **{**BATCH, "sync.daily_budget_mb": 0.006})
    central.provision(site)
    now_in("boot-w")
    ids = add_events(site, 300)
    first = online(site)
    assert first.code == "budget_exhausted" and 0 < first.events_sent < 300
    drive = tmp_path / "drive"
    export(site, drive, "boot-w")
    report = json.loads(central_import(central, drive).stdout)
    assert report["stored"] == 300 - first.events_sent
    assert report["acks"] == {load_identity(site.home).device_id: 300}
    exactly_once(central, ids)
    more = add_events(site, 10)
    # Tomorrow's budget: the next online sync learns central's acknowledgement from hello.
    db = site.open()
    try:
        db.execute_sql("DELETE FROM sync_bytes")
    finally:
        db.close()
    second = online(site)
    assert second.caught_up and second.events_sent == 10
    exactly_once(central, ids + more)
    assert read_ack(site, drive) == 310
    assert state.read_state(site.open()).cursor == 310
