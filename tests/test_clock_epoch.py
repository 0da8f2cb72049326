"""The clock epoch: boot id plus the changes of the clock within the boot (issue 19 item 4)."""

from __future__ import annotations

import json
import time

import pytest

from edge_server.system import clock_epoch


@pytest.fixture
def home(tmp_path):
    clock_epoch.configure(tmp_path)
    yield tmp_path
    clock_epoch.configure(None)


def test_the_first_epoch_of_a_boot_is_the_boot_id(home):
    assert clock_epoch.current() == clock_epoch.boot_id()
    assert json.loads((home / clock_epoch.STATE_FILE).read_text())["changes"] == 0


def test_a_step_of_the_clock_starts_a_new_epoch_once(home):
    boot = clock_epoch.boot_id()
    clock_epoch.current()
    later = time.time() + 3 * 3600  # NTP or a person stepped the clock three hours ahead
    assert clock_epoch.current(now=later) == f"{boot}+1"
    assert clock_epoch.current(now=later + 1) == f"{boot}+1"  # time passing is no change
    assert clock_epoch.current(now=later - 7200) == f"{boot}+2"  # stepped back again


def test_a_small_slew_is_not_a_new_epoch(home):
    first = clock_epoch.current()
    assert clock_epoch.current(now=time.time() + 0.5) == first


def test_another_process_counts_the_same_step_once(home):
    boot = clock_epoch.boot_id()
    clock_epoch.current()
    later = time.time() + 600
    assert clock_epoch.current(now=later) == f"{boot}+1"
    clock_epoch.configure(home)  # a second process: nothing cached, the same record
    assert clock_epoch.current(now=later) == f"{boot}+1"


def test_setting_the_clock_starts_a_new_epoch_even_when_the_step_is_not_seen(home):
    boot = clock_epoch.boot_id()
    clock_epoch.current()
    assert clock_epoch.changed() == f"{boot}+1"
    assert clock_epoch.current() == f"{boot}+1"


def test_a_record_of_another_boot_starts_over(home):
    (home / clock_epoch.STATE_FILE).write_text(
        json.dumps({"boot": "an-old-boot", "changes": 4, "base_ms": 0})
    )
    assert clock_epoch.current() == clock_epoch.boot_id()


def test_a_damaged_record_starts_over(home):
    (home / clock_epoch.STATE_FILE).write_text("{not json")
    assert clock_epoch.current() == clock_epoch.boot_id()


def test_the_site_records_events_in_the_current_epoch(app, make_user):
    from edge_server.learning import events

    boot = clock_epoch.boot_id()
    assert events.boot_id() == boot
    clock_epoch.changed()
    assert events.boot_id() == f"{boot}+1"


def test_the_bases_of_every_epoch_of_the_boot_are_kept(home):
    boot = clock_epoch.boot_id()
    now = time.time()
    first = clock_epoch.bases(now=now)[boot]
    later = clock_epoch.bases(now=now + 3600)  # the clock was set an hour ahead
    assert later[boot] == first
    assert abs(later[f"{boot}+1"] - first - 3_600_000) < 1000
