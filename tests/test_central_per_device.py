"""Central reports are per device and count only the sites' decisions (SQLite and PostgreSQL).

One site's batch cannot change another's course titles or required-item counts; completion
is what each site decided, never re-derived from verbs; a replayed request changes nothing
about the device; an event whose context passes the site's cap is refused.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from sync import protocol
from sync.central import registry, reports
from sync.central.models import CentralDecision, CentralEvent, Device, DeviceItem
from sync.protocol import Batch, EventRecord, ItemRecord, UserRecord
from tests.central_support import post
from tests.conftest import assert_api_error
from tests.sync_support import FAST, pg_base_url, pg_database

COURSE = "pack/course"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def central_app(request, tmp_path, monkeypatch) -> Iterator:
    """The central app on SQLite, then on a fresh PostgreSQL database."""
    from sync.central import create_app
    from sync.central.db import database

    base = pg_base_url()
    for var in [v for v in __import__("os").environ if v.startswith("KRU_")]:
        monkeypatch.delenv(var)
    config = {"data_dir": str(tmp_path / "central"), "TESTING": True, **FAST}
    with ExitStack() as stack:
        if request.param == "postgres":
            if not base:
                pytest.skip("KRU_TEST_DATABASE_URL is not set (export it to run PostgreSQL tests)")
            config["central.database_url"] = stack.enter_context(pg_database(base))
        app = create_app(config)
        database.connect(reuse_if_open=True)
        yield app
        if not database.is_closed():
            database.close()


def add_device(name: str) -> Device:
    return registry.add_device(name, "http://central.example", "Kandal").device


def item(n: int, total: int, title: str = "Teaching reading", counts: bool = True) -> ItemRecord:
    return ItemRecord(
        f"pack/item{n}", "lesson", f"មេរៀន {n}", f"Lesson {n}", COURSE, "វគ្គ", title, total, counts
    )


def event(seq: int, user: str, verb: str, obj: str, *, decision: bool = False) -> EventRecord:
    event_id = protocol.decision_id(user, obj, verb) if decision else str(uuid.uuid4())
    now = int(time.time() * 1000)
    return EventRecord(seq, event_id, user, verb, obj, None, None, None, now, "boot")


def batch(device: Device, events: list[EventRecord], items: list[ItemRecord], after: int = 0):
    last = after + len(events)
    for n, ev in enumerate(events, start=after + 1):
        ev.seq = n
    users = sorted({ev.user_uid for ev in events})
    return Batch(
        batch_id=protocol.batch_id_for(device.device_id, after, last),
        device_id=device.device_id,
        after=after,
        last=last,
        clock_ms=int(time.time() * 1000),
        users=[UserRecord(u, u, u, "learner") for u in users],
        items=items,
        events=events,
    )


def completion(device: Device) -> tuple[str, float]:
    (course,) = reports.completion_by_site()[device.id]
    return course.title_en, round(100 * course.completion, 1)


def test_another_sites_batch_leaves_a_sites_titles_and_completion_alone(central_app):
    client = central_app.test_client()
    a, b = add_device("TEC A"), add_device("TEC B")
    done = [
        event(0, "a1", "viewed", "pack/item1"),
        event(0, "a1", "completed", "pack/item1", decision=True),
    ]
    assert post(client, a, batch(a, done, [item(1, 14)])).status_code == 200
    assert completion(a) == ("Teaching reading", 7.1)
    # Site B has the same pack id, another title and a count of 1000 (or is simply wrong).
    theirs = [event(0, "b1", "viewed", "pack/item1")]
    assert post(client, b, batch(b, theirs, [item(1, 1000, "Renamed by B")])).status_code == 200
    assert completion(a) == ("Teaching reading", 7.1)
    assert completion(b) == ("Renamed by B", 0.0)
    assert (
        DeviceItem.get((DeviceItem.device == a.id) & (DeviceItem.key == "pack/item1")).course_items
        == 14
    )


def test_completion_counts_the_sites_decisions_and_nothing_else(central_app):
    client = central_app.test_client()
    site = add_device("TEC A")
    items = [item(1, 2), item(2, 2), item(3, 2, counts=False)]
    claims = [
        event(0, "u1", "completed", "pack/item1"),  # a phone's claim, not a decision
        event(0, "u1", "passed", "pack/item2"),
        event(0, "u1", "completed", "pack/item3", decision=True),  # optional item
        event(0, "u1", "failed", "pack/item2", decision=True),
    ]
    assert post(client, site, batch(site, claims, items)).status_code == 200
    assert completion(site)[1] == 0.0
    decided = [event(0, "u1", "passed", "pack/item2", decision=True)]
    assert post(client, site, batch(site, decided, items, after=4)).status_code == 200
    assert completion(site)[1] == 50.0
    assert sorted(d.decision for d in CentralDecision.select()) == ["completed", "failed", "passed"]


def test_a_replayed_older_batch_does_not_bring_back_an_old_title(central_app):
    client = central_app.test_client()
    site = add_device("TEC A")
    first = batch(site, [event(0, "u1", "viewed", "pack/item1")], [item(1, 3, "Old title")])
    post(client, site, first)
    second = batch(site, [event(0, "u1", "viewed", "pack/item2")], [item(2, 4, "New title")], 1)
    post(client, site, second)
    # The course's title and count move to item1's row too, which the second batch lacks.
    assert {r.course_title_en for r in DeviceItem.select()} == {"New title"}
    assert post(client, site, first).get_json()["replay"] is True
    assert {(r.course_title_en, r.course_items) for r in DeviceItem.select()} == {("New title", 4)}


def test_an_old_sites_batch_is_accepted_and_shows_it_sends_no_decisions(central_app):
    client = central_app.test_client()
    site = add_device("TEC old")
    body = protocol.encode_batch(
        batch(site, [event(0, "u1", "completed", "pack/item1")], [item(1, 1)])
    )
    lines = gzip.decompress(body).decode().splitlines()
    header, dictionary = json.loads(lines[0]), json.loads(lines[1])
    del header["decisions"]
    dictionary["items"] = [row[:8] for row in dictionary["items"]]  # version 1 as first written
    lines[:2] = [json.dumps(header), json.dumps(dictionary)]
    old = gzip.compress(("\n".join(lines) + "\n").encode())
    decoded = protocol.decode_batch(old)
    response = post(client, site, decoded, body=old)
    assert response.status_code == 200, response.get_json()
    assert Device.get_by_id(site.id).decisions is False
    assert completion(site)[1] == 0.0  # a phone's "completed" is not the site's decision
    from tests.central_support import sign_in

    sign_in(client, "viewer")
    client.post("/language", data={"lang": "en", "csrf_token": _csrf(client)})
    html = client.get(f"/sites/{site.device_id}").get_data(as_text=True)
    assert "runs an older Kru" in html


def _csrf(client) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client)


def test_an_event_context_larger_than_the_sites_cap_is_refused(central_app):
    client = central_app.test_client()
    site = add_device("TEC A")
    fits = event(0, "u1", "viewed", "pack/item1")
    fits.context = {"note": "x" * (protocol.MAX_CONTEXT_CHARS - 20)}
    assert protocol.json_size(fits.context) <= protocol.MAX_CONTEXT_CHARS
    too_big = event(0, "u1", "viewed", "pack/item1")
    too_big.context = {"note": "ក" * protocol.MAX_CONTEXT_CHARS}
    response = post(client, site, batch(site, [fits, too_big], [item(1, 1)]))
    error = assert_api_error(response, 413, protocol.E_EVENT_TOO_LARGE)
    assert (error["line"], error["limit"]) == (4, protocol.MAX_CONTEXT_CHARS)
    assert str(protocol.MAX_CONTEXT_CHARS) in error["message"]  # in the reader's language
    assert CentralEvent.select().count() == 0
    assert post(client, site, batch(site, [fits], [item(1, 1)])).status_code == 200


def _age(site: Device) -> None:
    """Mark the device as last seen long ago with a recognisable clock offset."""
    Device.update(last_seen_at="2020-01-01T00:00:00+00:00", clock_offset_s=-42.0).where(
        Device.id == site.id
    ).execute()


def _seen(site: Device) -> tuple[str, float]:
    row = Device.get_by_id(site.id)
    return row.last_seen_at, row.clock_offset_s


def test_a_replayed_batch_changes_neither_last_contact_nor_clock_offset(central_app):
    client = central_app.test_client()
    site = add_device("TEC A")
    sent = batch(site, [event(0, "u1", "viewed", "pack/item1")], [item(1, 1)])
    sent.clock_ms -= 3_600_000
    body = protocol.encode_batch(sent)
    assert post(client, site, sent, body=body).status_code == 200
    _age(site)
    again = post(client, site, sent, body=body)  # the captured request, byte for byte
    assert again.status_code == 200 and again.get_json()["replay"] is True
    assert _seen(site) == ("2020-01-01T00:00:00+00:00", -42.0)
    later = batch(site, [event(0, "u1", "viewed", "pack/item1")], [item(1, 1)], after=1)
    post(client, site, later)
    seen, offset = _seen(site)
    assert seen > "2020-01-01T00:00:00+00:00" and abs(offset) < 60


def _hello(client, site: Device, clock_ms: int):
    headers = protocol.signed_headers(
        site.secret, "GET", protocol.HELLO_PATH, site.device_id, protocol.NO_BATCH, b"", clock_ms
    )
    return client.get(protocol.HELLO_PATH, headers=headers)


def test_a_replayed_probe_does_not_mark_the_site_seen(central_app):
    client = central_app.test_client()
    site = add_device("TEC A")
    clock = int(time.time() * 1000)
    assert _hello(client, site, clock).status_code == 200
    assert _seen(site)[0] is not None
    _age(site)
    assert _hello(client, site, clock).status_code == 200  # replayed
    assert _seen(site)[0] == "2020-01-01T00:00:00+00:00"
    assert _hello(client, site, clock + 1000).status_code == 200  # a fresh probe
    assert _seen(site)[0] > "2020-01-01T00:00:00+00:00"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def raw_db(request, tmp_path) -> Iterator:
    """A bare central database (no migrations yet) on SQLite, then on PostgreSQL."""
    from peewee import SqliteDatabase

    from sync.central.db import postgres_from_url

    base = pg_base_url()
    with ExitStack() as stack:
        if request.param == "postgres":
            if not base:
                pytest.skip("KRU_TEST_DATABASE_URL is not set (export it to run PostgreSQL tests)")
            db = postgres_from_url(stack.enter_context(pg_database(base)))
        else:
            db = SqliteDatabase(str(tmp_path / "central.sqlite3"))
        db.connect()
        yield db
        db.close()


def test_the_upgrade_gives_each_device_the_shared_catalog_rows_it_has_events_on(raw_db):
    from edge_server.base import migrate
    from sync.central.db import MIGRATIONS as PACKAGE

    migrate.migrate(raw_db, PACKAGE, target="m0002_login_attempts")
    p = raw_db.param
    for pk, device_id in ((1, "site-a"), (2, "site-b")):
        raw_db.execute_sql(
            f"INSERT INTO devices (id, device_id, name, secret, created_at) VALUES ({p}, {p}, {p}, 's', 'now')",  # noqa: E501
            (pk, device_id, device_id),
        )
    for key in ("pack/item1", "pack/item2"):
        raw_db.execute_sql(
            "INSERT INTO catalog_items (key, type, title_km, title_en, course_key, course_title_km, "  # noqa: E501
            f"course_title_en, course_items) VALUES ({p}, 'pdf', 'ក', 'A', 'pack/c', 'វគ្គ', 'Course', 7)",  # noqa: E501
            (key,),
        )
    for n, (device, obj) in enumerate(((1, "pack/item1"), (1, "pack/item1"), (2, "pack/item2"))):
        raw_db.execute_sql(
            "INSERT INTO central_events (device_id, event_id, seq, user_uid, verb, object, "
            "server_ms, corrected_ms, boot_id, received_ms) "
            f"VALUES ({p}, {p}, {p}, 'u1', 'viewed', {p}, 0, 0, 'b', 0)",
            (device, f"e{n}", n + 1, obj),
        )
    applied = migrate.migrate(raw_db, PACKAGE)
    assert "m0010_per_device_reports" in applied
    rows = raw_db.execute_sql(
        "SELECT device_id, key, type, course_title_en, course_items, counts FROM device_items "
        "ORDER BY device_id, key"
    ).fetchall()
    assert [tuple(r[:5]) for r in rows] == [
        (1, "pack/item1", "pdf", "Course", 7),
        (2, "pack/item2", "pdf", "Course", 7),
    ]
    assert all(bool(r[5]) for r in rows)
    columns = {c.name for c in raw_db.get_columns("devices")}
    assert {"last_clock_ms", "decisions"} <= columns
