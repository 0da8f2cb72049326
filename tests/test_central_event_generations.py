"""Central's event numbers name one event per device again after a Pi is replaced.

When the ministry marks a site's Pi replaced (``kru central device replace``), the new
machine's numbers went their own way after the copy its card came from: central held an
event of each machine under one (device, seq). Each device's events now carry the stream
(generation) they came in; a replacement starts the next one and (device, generation, seq)
is unique in the database. Real sites, ``kru central serve`` on SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from edge_server.base import migrate
from sync.central import competencies, figures, fleet_health, registry
from sync.central.db import MIGRATIONS as PACKAGE
from sync.protocol import ItemRecord
from tests.central_support import make_batch, post
from tests.sync_support import CentralServer, add_events, central_rows, make_site
from tests.test_central_per_device import central_app, raw_db  # noqa: F401 - the fixtures
from tests.test_fleet_health import machine_file, online


def rows(central: CentralServer, url: str) -> list[tuple]:
    return central_rows(
        central, url, "SELECT generation, seq, event_id FROM central_events ORDER BY id"
    )


def test_a_replaced_pis_numbers_and_its_successors_stay_apart(tmp_path, central_on_both):
    central, url = central_on_both
    machine = {"sync.machine_id_files": machine_file(tmp_path, "a")}
    old = make_site(tmp_path, "tec-old-pi", **machine)
    device = central.provision(old)
    first = add_events(old, 30)
    assert online(old).caught_up
    # The card is copied into a new Pi, which records events of its own: #31..#42.
    shutil.copytree(old.home.root, tmp_path / "tec-new-pi")
    new = make_site(
        tmp_path, "tec-new-pi", **{"sync.machine_id_files": machine_file(tmp_path, "b")}
    )
    taken_over = add_events(new, 12)
    assert not online(new).caught_up  # refused: another machine holds the identity
    late = add_events(old, 8)  # the old Pi's last events before it broke: #31..#38
    assert online(old).caught_up
    central.cli("device", "replace", device)
    assert online(new).caught_up

    held = rows(central, url)
    stream = {event_id: (generation, seq) for generation, seq, event_id in held}
    assert len(held) == 50 == len(stream)
    assert Counter(stream.values()).most_common(1)[0][1] == 1  # each number names one event
    assert {stream[e] for e in first + late} == {(0, n) for n in range(1, 39)}
    assert {stream[e] for e in taken_over} == {(1, n) for n in range(31, 43)}
    # The database holds to it: a second event under a number of the stream is refused.
    sql = (
        "INSERT INTO central_events (device_id, generation, event_id, seq, user_uid, verb, "
        "object, server_ms, corrected_ms, boot_id, received_ms) SELECT device_id, generation, "
        "'another', seq, user_uid, verb, object, 0, 0, 'b', 0 FROM central_events "
        "WHERE generation = 1 AND seq = 31"
    )
    with pytest.raises(Exception, match="(?i)unique"):
        central_rows(central, url, sql)


def test_a_batch_reusing_numbers_of_its_stream_starts_the_next(tmp_path, central_on_both):
    """A restore onto a new card while a drive of the old card is on its way to central."""
    from tests.test_sync_after_restore import back_up, kru
    from tests.test_usb_sync import central_import, kru_site

    central, url = central_on_both
    old = make_site(tmp_path, "tec-card-a")
    central.provision(old)
    ids = add_events(old, 30)
    assert online(old).caught_up
    made = back_up(old, tmp_path / "usb")
    ids += add_events(old, 20)  # #31..#50, only on the drive
    drive = tmp_path / "drive"
    drive.mkdir()
    assert kru_site(old, "export", str(drive)).returncode == 0
    shutil.rmtree(old.home.root)  # the card dies
    new = make_site(tmp_path, "tec-card-b")
    shutil.rmtree(new.home.root)
    kru(new, "restore", str(made))
    ids += add_events(new, 10)  # #31..#40 again, other events
    assert online(new).caught_up
    assert central_import(central, drive).returncode == 0

    held = rows(central, url)
    assert sorted(e for _, _, e in held) == sorted(ids)  # nothing lost, nothing twice
    keys = [(generation, seq) for generation, seq, _ in held]
    assert len(keys) == len(set(keys))
    assert {g for g, _ in keys} == {0, 1}  # the drive's events are kept aside
    # The site goes on: central acknowledged nothing of the dead card's drive, so the
    # events the new card numbers #41..#50 are sent, not skipped.
    ids += add_events(new, 15)
    assert online(new).caught_up
    held = rows(central, url)
    assert sorted(e for _, _, e in held) == sorted(ids)
    assert len({(g, s) for g, s, _ in held}) == len(held)


def test_the_upgrade_gives_held_events_their_streams(raw_db):  # noqa: F811
    migrate.migrate(raw_db, PACKAGE, target="m0092_site_release_code")
    p = raw_db.param
    raw_db.execute_sql(
        "INSERT INTO devices (id, device_id, name, secret, created_at, replaced_at) "
        f"VALUES (1, 'site-a', 'A', 's', 'now', {p}), (2, 'site-b', 'B', 's', 'now', NULL)",
        ("2026-06-01T00:00:00+00:00",),
    )
    raw_db.execute_sql(
        "INSERT INTO devices (id, device_id, name, secret, created_at, replaced_at, rebase_ack) "
        "VALUES (3, 'site-c', 'C', 's', 'now', '2026-06-01T00:00:00+00:00', TRUE)"
    )
    before, after = 1_700_000_000_000, 1_790_000_000_000  # 2023, 2026-09
    events = [
        (1, "a1", 1, before),
        (1, "a2", 2, before),
        (1, "a3", 3, before),
        (1, "b2", 2, after),  # the new machine, from #2
        (1, "b3", 3, after),
        (1, "b4", 4, after),
        (2, "c1", 1, before),
        (2, "c2", 2, before),
        (2, "d1", 1, before),  # no replacement known: a clash is kept in a stream of its own
        (2, "d2", 2, before),
        (2, "c3", 3, before),  # the current stream goes on
        (2, "e1", 1, before),  # a third event #1: the first stream of its own has one
    ]
    for device, event_id, seq, received in events:
        raw_db.execute_sql(
            "INSERT INTO central_events (device_id, event_id, seq, user_uid, verb, object, "
            "server_ms, corrected_ms, boot_id, received_ms) "
            f"VALUES ({p}, {p}, {p}, 'u1', 'viewed', 'pack/item1', 0, 0, 'b', {p})",
            (device, event_id, seq, received),
        )

    assert "m0094_event_number_generations" in migrate.migrate(raw_db, PACKAGE)

    got = dict(raw_db.execute_sql("SELECT event_id, generation FROM central_events").fetchall())
    assert got == {
        **{"a1": 0, "a2": 0, "a3": 0, "b2": 1, "b3": 1, "b4": 1},
        **{"c1": 0, "c2": 0, "c3": 0, "d1": 1, "d2": 1, "e1": 2},
    }
    devices = raw_db.execute_sql("SELECT id, generation FROM devices ORDER BY id").fetchall()
    assert [tuple(r) for r in devices] == [(1, 1), (2, 0), (3, 1)]


def assessed(batch, level: int):
    """Make the last event of ``batch`` the site's decision of u1's level on competency 1.1."""
    last = batch.events[-1]
    last.verb = competencies.VERB
    last.object = f"{competencies.PREFIX}1.1"
    last.result = {"level": level}
    last.context = {"title": {"en": "Plans lessons"}}
    batch.items.append(ItemRecord(last.object))  # as a site lists what its events name
    return batch


def test_the_new_pis_later_decision_counts_though_its_number_is_lower(central_app):  # noqa: F811
    """Reports take a learner's latest level by (generation, seq), not by seq alone."""
    device = registry.add_device("TEC Takeo", "http://central.example", "Takeo").device
    client = central_app.test_client()
    assert (
        post(client, device, make_batch(device.device_id, 0, 30), machine="m-one").status_code
        == 200
    )
    clone = assessed(make_batch(device.device_id, 30, 5), 3)  # #35 on the new Pi
    assert post(client, device, clone, machine="m-two").status_code == 409
    late = assessed(make_batch(device.device_id, 30, 20), 1)  # #50 on the old Pi, earlier
    assert post(client, device, late, machine="m-one").status_code == 200
    assert levels_of_u1() == [0, 1, 0, 0]
    fleet_health.replace_machine(device.device_id)
    assert post(client, device, clone, machine="m-two").status_code == 200
    assert levels_of_u1() == [0, 0, 0, 1]
    assert figures.learner_figures([device.id])[(device.id, "u1")].levels == {"1.1": 3}


def levels_of_u1() -> list[int]:
    report = competencies.report()
    (_province, total, _sites) = report.provinces[0]
    return total.cells["1.1"].levels
