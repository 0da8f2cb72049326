"""Ingest of signed site batches: authenticate, decode, store each event at most once.

Idempotence lives in unique constraints, not in process state, so any number of central
processes on one PostgreSQL may ingest at once: events are inserted with ON CONFLICT DO
NOTHING on (device, event id), the batch record likewise on (device, batch id), and the
device's acknowledged sequence moves in one conditional UPDATE. Rows are written in key
order and only when new or changed, so concurrent batches neither deadlock nor queue
behind one another.

Everything a batch writes belongs to its device: the items as the site describes them
(titles, course, required-item count) and the decisions the site made. One site's batch
cannot change another site's figures. A replayed batch (an id already held) stores nothing
new and refreshes neither the device's last contact nor its clock offset.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from peewee import Case, Database, DatabaseProxy, IntegrityError, OperationalError, fn

from edge_server.base.db import utcnow
from edge_server.base.errors import N_, KruError
from sync import protocol
from sync.protocol import Batch

from . import certificates, fleet_health
from .db import database, is_postgres
from .models import (
    CentralDecision,
    CentralEvent,
    Device,
    DeviceBootClock,
    DeviceClockEpoch,
    DeviceItem,
    Person,
    SiteCohort,
    SiteCohortMember,
    SyncBatch,
)

log = logging.getLogger(__name__)

INSERT_CHUNK = 1000
VIA_ONLINE = "online"
VIA_USB = "usb"

# The clock offset (ms) to correct an event's Pi time with, or None when unknown.
OffsetOf = Callable[[protocol.EventRecord], "int | None"]


class SyncAuthError(KruError):
    code = protocol.E_BAD_SIGNATURE
    status = 401


class ServerBusy(KruError):
    code = protocol.E_BUSY
    status = 503
    retry_after = 2


class HeaderSource(Protocol):
    """Request headers as authenticate reads them: werkzeug's Headers or a plain dict."""

    def get(self, key: str, /) -> str | None: ...


def authenticate(
    method: str, path: str, headers: HeaderSource, body: bytes
) -> tuple[Device, int, int]:
    """Return (device, protocol version, Pi clock ms) of a signed request.

    Version 2 requests are signed with the machine's fingerprint too; a machine other than
    the one holding the identity is refused (``fleet_health.check_machine``).

    Raises:
        ProtocolError: a header is missing, or the protocol version is not spoken here.
        SyncAuthError: unknown device or wrong signature (401); disabled device (403).
        IdentityClash: another machine holds this identity (409).
    """
    values = {}
    for name in (
        protocol.H_PROTOCOL,
        protocol.H_DEVICE,
        protocol.H_BATCH,
        protocol.H_CLOCK,
        protocol.H_DIGEST,
        protocol.H_SIGNATURE,
    ):
        value = headers.get(name)
        if not value:
            raise protocol.ProtocolError(
                N_("The request lacks the header %(header)s"),
                code=protocol.E_MISSING_HEADER,
                header=name,
            )
        values[name] = value
    try:
        version = int(values[protocol.H_PROTOCOL])
        clock_ms = int(values[protocol.H_CLOCK])
    except ValueError as exc:
        raise protocol.ProtocolError(
            N_("The protocol and clock headers must be whole numbers"),
            code=protocol.E_MISSING_HEADER,
        ) from exc
    if version not in protocol.SUPPORTED_VERSIONS:
        raise protocol.ProtocolError(
            N_("Protocol version %(version)s is not supported here"),
            code=protocol.E_UNSUPPORTED_PROTOCOL,
            details={"supported": list(protocol.SUPPORTED_VERSIONS)},
            version=version,
        )
    machine: str | None = None
    if version >= 2:
        machine = headers.get(protocol.H_MACHINE)
        if not machine or len(machine) > protocol.MAX_MACHINE_CHARS:
            raise protocol.ProtocolError(
                N_("The request lacks the header %(header)s"),
                code=protocol.E_MISSING_HEADER,
                header=protocol.H_MACHINE,
            )
    device = Device.get_or_none(Device.device_id == values[protocol.H_DEVICE])
    if device is None:
        raise SyncAuthError(
            N_("This device is not registered with the central server"),
            code=protocol.E_UNKNOWN_DEVICE,
        )
    message = protocol.string_to_sign(
        method,
        path,
        values[protocol.H_DEVICE],
        values[protocol.H_BATCH],
        values[protocol.H_CLOCK],
        values[protocol.H_DIGEST],
        machine,
    )
    if not protocol.verify_signature(device.secret, message, values[protocol.H_SIGNATURE]):
        raise SyncAuthError(N_("The request signature is wrong"))
    if not device.enabled:
        raise SyncAuthError(
            N_("This device is disabled on the central server"),
            code=protocol.E_DEVICE_DISABLED,
            status=403,
        )
    if protocol.body_digest(body) != values[protocol.H_DIGEST].lower():
        raise protocol.ProtocolError(
            N_("The body does not match its digest (damaged in transit); send it again"),
            code=protocol.E_DIGEST_MISMATCH,
        )
    if machine is not None:
        fleet_health.check_machine(device, machine)
    return device, version, clock_ms


# One encoder for every event: json.dumps with options builds a new encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return _encode(value)


def _item_values(it: protocol.ItemRecord) -> dict[str, Any]:
    return {
        "type": it.type,
        "title_km": it.title_km,
        "title_en": it.title_en,
        "course_key": it.course_key,
        "course_title_km": it.course_title_km,
        "course_title_en": it.course_title_en,
        "course_items": it.course_items,
        "counts": it.counts,
    }


def _store_items(device: Device, items: list[protocol.ItemRecord], *, latest: bool) -> None:
    """Store the items as this device describes them.

    New items are added from any batch. Changed titles, courses and required-item counts
    are taken only from a ``latest`` batch (new, past everything acknowledged), so a replay
    of an older batch cannot bring back an old title; the course's titles and count are
    then set on all of the device's items of that course, which may not be in this batch.
    """
    # Sessions and certificates (issue 16) travel as "urn:kru:..." objects: no catalog item.
    described = {it.key: it for it in items if not it.key.startswith("urn:")}
    if not described:
        return
    existing = {
        row.key: row
        for row in DeviceItem.select().where(
            (DeviceItem.device == device.id) & DeviceItem.key.in_(list(described))
        )
    }
    new = [it for key, it in sorted(described.items()) if key not in existing]
    if new:
        DeviceItem.insert_many(
            [{"device": device.id, "key": it.key, **_item_values(it)} for it in new]
        ).on_conflict_ignore().execute()
    if not latest:
        return
    courses: dict[str, protocol.ItemRecord] = {}
    for key, it in sorted(described.items()):
        if not it.type:  # the site no longer knows this item: keep what it said before
            continue
        courses.setdefault(it.course_key, it)
        old = existing.get(key)
        fresh = _item_values(it)
        if old is not None and any(getattr(old, k) != v for k, v in fresh.items()):
            DeviceItem.update(fresh).where(DeviceItem.id == old.id).execute()
    for course_key, it in sorted(courses.items()):
        if not course_key:
            continue
        DeviceItem.update(
            course_title_km=it.course_title_km,
            course_title_en=it.course_title_en,
            course_items=it.course_items,
        ).where(
            (DeviceItem.device == device.id)
            & (DeviceItem.course_key == course_key)
            & (
                (DeviceItem.course_title_km != it.course_title_km)
                | (DeviceItem.course_title_en != it.course_title_en)
                | (DeviceItem.course_items != it.course_items)
            )
        ).execute()


def _store_decisions(
    device: Device, events: list[protocol.EventRecord], offset_of: OffsetOf
) -> None:
    """Record the decisions among ``events`` (each at most once per learner, item, status)."""
    decided = sorted(
        (ev for ev in events if protocol.is_decision(ev.id, ev.user_uid, ev.object, ev.verb)),
        key=lambda ev: (ev.user_uid, ev.object, ev.verb),
    )
    values = []
    for ev in decided:
        score = ev.result.get("score") if isinstance(ev.result, dict) else None
        values.append(
            {
                "device": device.id,
                "user_uid": ev.user_uid,
                "item": ev.object,
                "decision": ev.verb,
                "event_id": ev.id,
                "score": score if type(score) in (int, float) else None,
                "decided_ms": ev.server_ms + (offset_of(ev) or 0),
            }
        )
    for start in range(0, len(values), INSERT_CHUNK):
        CentralDecision.insert_many(
            values[start : start + INSERT_CHUNK]
        ).on_conflict_ignore().execute()


def _store_people(device: Device, batch: Batch, *, latest: bool) -> None:
    """Store the batch's accounts and cohorts.

    A batch is built from the site's database when it is sent, so its member lists are the
    site's cohorts as they were then. When ``latest`` (a new batch past everything acked),
    they replace the stored lists, so a learner moved out of a cohort on the site leaves it
    here too; a replayed or older batch leaves the lists alone.
    """
    users = sorted(batch.users, key=lambda u: u.uid)
    if users:
        Person.insert_many(
            [
                {
                    "device": device.id,
                    "uid": u.uid,
                    "username": u.username,
                    "display_name": u.display_name,
                    "role": u.role,
                    "national_id": u.national_id or "",
                }
                for u in users
            ]
        ).on_conflict(
            conflict_target=[Person.device, Person.uid],
            preserve=[Person.username, Person.display_name, Person.role],
        ).execute()
        # A national teacher id changes only with a new batch from a site that sends them
        # (protocol 1.4), so a replayed old batch cannot undo a correction.
        sent = [u for u in users if u.national_id is not None]
        if latest and sent:
            query = Person.select(Person.uid, Person.national_id).where(
                (Person.device == device.id) & Person.uid.in_([u.uid for u in sent])
            )
            stored: dict[str, str] = {uid: nid for uid, nid in query.tuples().iterator()}
            for u in sent:
                if stored.get(u.uid) != u.national_id:
                    Person.update(national_id=u.national_id).where(
                        (Person.device == device.id) & (Person.uid == u.uid)
                    ).execute()
    cohorts = sorted(batch.cohorts, key=lambda c: c.uid)
    if not cohorts:
        return
    SiteCohort.insert_many(
        [{"device": device.id, "uid": c.uid, "name": c.name} for c in cohorts]
    ).on_conflict(
        conflict_target=[SiteCohort.device, SiteCohort.uid], preserve=[SiteCohort.name]
    ).execute()
    if not latest:
        return
    ids = {
        row.uid: row.id
        for row in SiteCohort.select(SiteCohort.id, SiteCohort.uid).where(
            (SiteCohort.device == device.id) & SiteCohort.uid.in_([c.uid for c in cohorts])
        )
    }
    for c in cohorts:
        SiteCohortMember.delete().where(
            (SiteCohortMember.cohort == ids[c.uid])
            & SiteCohortMember.person_uid.not_in(c.members or [""])
        ).execute()
    members = sorted({(ids[c.uid], m) for c in cohorts for m in c.members})
    for start in range(0, len(members), INSERT_CHUNK):
        SiteCohortMember.insert_many(
            [
                {"cohort": cid, "person_uid": uid}
                for cid, uid in members[start : start + INSERT_CHUNK]
            ]
        ).on_conflict_ignore().execute()


_EVENT_COLUMNS = (
    "device_id, generation, event_id, seq, user_uid, verb, object, result, context, client_ts, "
    "server_ms, corrected_ms, boot_id, received_ms, clock_unknown"
)


def _store_events(
    db: Database | DatabaseProxy,
    device: Device,
    events: list[protocol.EventRecord],
    offset_of: OffsetOf,
    now_ms: int,
) -> tuple[int, bool]:
    """Insert the events not yet held; return how many, and whether their numbers clashed.

    (device, generation, seq) is unique. The events go into the device's current stream of
    numbers (``Device.generation``; a replaced machine's successor starts the next one,
    ``fleet_health.replace_machine``). A batch whose numbers that stream holds for other
    events comes from a branch of the site's history that the site left (a drive of a dead
    SD card imported after a backup was restored onto a new one): its events are kept in a
    stream of their own, so none is lost and no number names two events, and the current
    stream goes on as it was.
    """
    generation = Device.select(Device.generation).where(Device.id == device.id).scalar()
    try:
        with db.atomic():  # a savepoint: a clash undoes this insert only
            return _insert_events(db, device.id, generation, events, offset_of, now_ms), False
    except _integrity_errors(db) as exc:
        side = 1 + max(
            generation,
            CentralEvent.select(fn.MAX(CentralEvent.generation))
            .where(CentralEvent.device == device.id)
            .scalar()
            or 0,
        )
        log.warning(
            "a batch of %s reuses event numbers of stream %s for other events (%s); its "
            "events are kept in stream %s and acknowledge nothing",
            device.device_id,
            generation,
            exc,
            side,
        )
    return _insert_events(db, device.id, side, events, offset_of, now_ms), True


def _integrity_errors(db: Database | DatabaseProxy) -> tuple[type[Exception], ...]:
    """Return the driver's exception types for a broken unique constraint."""
    import sqlite3

    if is_postgres(db):
        import psycopg2  # only on PostgreSQL

        return (IntegrityError, psycopg2.IntegrityError)
    return (IntegrityError, sqlite3.IntegrityError)


def _insert_events(
    db: Database | DatabaseProxy,
    device_pk: int,
    generation: int,
    events: list[protocol.EventRecord],
    offset_of: OffsetOf,
    now_ms: int,
) -> int:
    """Insert the events not yet held and return how many were new.

    One prepared statement for the whole batch on SQLite (``executemany``), one array per
    column on PostgreSQL (``_UNNEST_INSERT``): building peewee's per-row SQL was half of the
    central server's CPU time per batch (docs/performance.md, item 7).
    """
    offsets = [offset_of(ev) for ev in events]
    if not events:
        return 0
    if is_postgres(db):
        return _insert_events_postgres(db, device_pk, generation, events, offsets, now_ms)
    rows = [
        (
            device_pk,
            generation,
            ev.id,
            ev.seq,
            ev.user_uid,
            ev.verb,
            ev.object,
            _dumps(ev.result),
            _dumps(ev.context),
            ev.client_ts,
            ev.server_ms,
            ev.server_ms + (offset or 0),
            ev.boot_id,
            now_ms,
            offset is None,
        )
        for ev, offset in zip(events, offsets, strict=True)
    ]
    cursor = db.cursor()
    marks = ", ".join("?" * len(rows[0]))
    cursor.executemany(
        f"INSERT INTO central_events ({_EVENT_COLUMNS}) VALUES ({marks}) "  # noqa: S608
        "ON CONFLICT (device_id, event_id) DO NOTHING",
        rows,
    )
    return max(cursor.rowcount, 0)


# One column array per field, unnested into rows by PostgreSQL, each array sent as one text
# literal ('{"a","b"}', ``_text_array``): PostgreSQL parses one literal per column, where a
# multi-row VALUES list (execute_values) made Python quote every row and PostgreSQL parse
# every literal, and psycopg2's own list adapter (ARRAY['a','b']) quoted element by element,
# a third of the central server's time per batch (docs/performance.md).
_UNNEST_INSERT = (
    f"INSERT INTO central_events ({_EVENT_COLUMNS}) "  # noqa: S608 - constants
    "SELECT %s, %s, e, s, u, v, o, r, c, ct, sm, cm, b, %s, cu FROM unnest("
    "%s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::boolean[]"
    ") AS x(e, s, u, v, o, r, c, ct, sm, cm, b, cu) "
    "ON CONFLICT (device_id, event_id) DO NOTHING RETURNING 1"
)


def _text_array(values: list[str | None]) -> str:
    """Return a PostgreSQL text[] literal: every element quoted (backslash and double quote
    escaped), None as NULL."""
    return (
        "{"
        + ",".join(
            "NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            for v in values
        )
        + "}"
    )


def _int_array(values: list[int]) -> str:
    """Return a PostgreSQL bigint[] literal."""
    return "{" + ",".join(map(str, values)) + "}"


def _insert_events_postgres(
    db: Database | DatabaseProxy,
    device_pk: int,
    generation: int,
    events: list[protocol.EventRecord],
    offsets: list[int | None],
    now_ms: int,
) -> int:
    cursor = db.cursor()
    stored = 0
    for start in range(0, len(events), INSERT_CHUNK):
        chunk = events[start : start + INSERT_CHUNK]
        shifts = offsets[start : start + INSERT_CHUNK]
        cursor.execute(
            _UNNEST_INSERT,
            (
                device_pk,
                generation,
                now_ms,
                _text_array([ev.id for ev in chunk]),
                _int_array([ev.seq for ev in chunk]),
                _text_array([ev.user_uid for ev in chunk]),
                _text_array([ev.verb for ev in chunk]),
                _text_array([ev.object for ev in chunk]),
                _text_array([_dumps(ev.result) for ev in chunk]),
                _text_array([_dumps(ev.context) for ev in chunk]),
                _text_array([ev.client_ts for ev in chunk]),
                _int_array([ev.server_ms for ev in chunk]),
                _int_array(
                    [ev.server_ms + (off or 0) for ev, off in zip(chunk, shifts, strict=True)]
                ),
                _text_array([ev.boot_id for ev in chunk]),
                "{" + ",".join("t" if off is None else "f" for off in shifts) + "}",
            ),
        )
        stored += len(cursor.fetchall())
    return stored


def ingest_batch(
    db: Database | DatabaseProxy,
    device: Device,
    batch: Batch,
    *,
    body_bytes: int = 0,
    received_ms: int | None = None,
    via: str = VIA_ONLINE,
) -> dict[str, Any]:
    """Store ``batch`` of ``device`` in one transaction and return the acknowledgement.

    ``via`` is ``usb`` for a batch carried on a drive (``usb_import``): it says nothing of
    the site's last contact. Times are corrected per clock epoch (boot id plus the clock's
    changes within the boot): an online batch teaches the offset of the epoch it was built
    in and corrects its events of that epoch with it; events of another epoch, and every
    event of a USB batch, take the offset learned online for their own epoch, or are marked
    clock unknown until that epoch is heard online. A batch of a site that names no epoch
    (an older Kru) has all its events corrected with its offset.

    Raises:
        ProtocolError: the batch names another device.
        ServerBusy: the database asked us to retry (deadlock, lock timeout).
    """
    if batch.device_id != device.device_id:
        raise protocol.ProtocolError(N_("The batch belongs to another device"))
    now_ms = int(time.time() * 1000) if received_ms is None else received_ms
    offset_ms: int | None = now_ms - batch.clock_ms
    try:
        with db.atomic():
            _know_epochs(device, batch.bases, now_ms)  # a replay says the same again
            learned = _boot_offsets(device, {ev.boot_id for ev in batch.events} | {batch.boot})
            if via == VIA_USB:
                offset_ms = learned.get(batch.boot)
            elif batch.boot:
                learned[batch.boot] = now_ms - batch.clock_ms
            else:  # an older site: one offset for the whole batch, as protocol 1.0 had it
                learned = {ev.boot_id: now_ms - batch.clock_ms for ev in batch.events}

            def offset_of(ev: protocol.EventRecord) -> int | None:
                return learned.get(ev.boot_id)

            new_batch = (
                SyncBatch.insert(
                    device=device.id,
                    batch_id=batch.batch_id,
                    after_seq=batch.after,
                    last_seq=batch.last,
                    events=len(batch.events),
                    stored=0,
                    body_bytes=body_bytes,
                    pi_clock_ms=batch.clock_ms,
                    received_ms=now_ms,
                    clock_offset_s=(offset_ms or 0) / 1000,
                    via=via,
                )
                .on_conflict_ignore()
                .as_rowcount()
                .execute()
            )
            latest = bool(new_batch) and batch.last > (device.acked_seq or 0)
            _store_items(device, batch.items, latest=latest)
            _store_people(device, batch, latest=latest)
            stored, clashed = _store_events(db, device, batch.events, offset_of, now_ms)
            _store_decisions(device, batch.events, offset_of)
            if new_batch and via == VIA_ONLINE and batch.boot and offset_ms is not None:
                _learn_boot_offset(device, batch.boot, offset_ms, now_ms)
                _derive_offsets(device, _boot_of(batch.boot), now_ms)
            certificates.store(device, batch)  # issue 16: signed certificates, the site's key
            if new_batch and batch.status:
                fleet_health.store_status(device, batch.status, via)
            if new_batch:
                SyncBatch.update(stored=stored).where(
                    (SyncBatch.device == device.id) & (SyncBatch.batch_id == batch.batch_id)
                ).execute()
            updates: dict[Any, Any] = {
                Device.events_received: Device.events_received + stored,
                Device.acked_seq: Case(
                    None,
                    [
                        (
                            (
                                Device.acked_seq
                                >= min(
                                    batch.after, batch.after if batch.acked is None else batch.acked
                                )
                            )
                            & (Device.acked_seq < batch.last),
                            batch.last,
                        )
                    ],
                    Device.acked_seq,
                ),
            }
            if clashed:
                # Central holds other events under these numbers: what the site holds
                # contiguously is unchanged by this batch.
                del updates[Device.acked_seq]
            elif device.rebase_ack:
                # The first batch of a machine that took the identity over (an admin marked
                # the old one replaced): it holds everything up to its own ``acked``.
                updates[Device.acked_seq] = batch.last
                updates[Device.rebase_ack] = False
            if new_batch and via == VIA_ONLINE and offset_ms is not None:
                # Only a batch not seen before says the site is alive now and what its clock
                # reads: a replayed request (captured on the link, sent again) must not.
                updates.update(_fresh_contact(batch, offset_ms))
            Device.update(updates).where(Device.id == device.id).execute()
            acked = Device.select(Device.acked_seq).where(Device.id == device.id).scalar()
    except OperationalError as exc:
        log.warning("ingest of batch %s had to stop: %s", batch.batch_id, exc)
        raise ServerBusy(N_("The central server is busy; try again shortly")) from exc
    return {
        "batch": batch.batch_id,
        "acked_seq": acked,
        "stored": stored,
        "duplicates": len(batch.events) - stored,
        "replay": not new_batch,
        "server_time": now_ms,
        "clock_offset_s": None if offset_ms is None else round(offset_ms / 1000, 3),
        "protocol": batch.version,
    }


def _boot_offsets(device: Device, boots: set[str]) -> dict[str, int]:
    """Return the clock offsets (ms) learned online for these boots of the device's Pi."""
    return {
        row.boot_id: round(row.clock_offset_s * 1000)
        for row in DeviceBootClock.select().where(
            (DeviceBootClock.device == device.id) & DeviceBootClock.boot_id.in_(sorted(boots))
        )
    }


def _learn_boot_offset(device: Device, boot: str, offset_ms: int, now_ms: int) -> None:
    """Remember the offset of this boot; the first time, correct what came by USB before."""
    known = (
        DeviceBootClock.update(clock_offset_s=offset_ms / 1000, learned_ms=now_ms)
        .where((DeviceBootClock.device == device.id) & (DeviceBootClock.boot_id == boot))
        .execute()
    )
    if known:
        return
    DeviceBootClock.insert(
        device=device.id, boot_id=boot, clock_offset_s=offset_ms / 1000, learned_ms=now_ms
    ).on_conflict_ignore().execute()
    unknown = CentralEvent.select(CentralEvent.event_id).where(
        (CentralEvent.device == device.id)
        & (CentralEvent.boot_id == boot)
        & CentralEvent.clock_unknown
    )
    CentralDecision.update(decided_ms=CentralDecision.decided_ms + offset_ms).where(
        (CentralDecision.device == device.id) & CentralDecision.event_id.in_(unknown)
    ).execute()
    CentralEvent.update(corrected_ms=CentralEvent.server_ms + offset_ms, clock_unknown=False).where(
        (CentralEvent.device == device.id)
        & (CentralEvent.boot_id == boot)
        & CentralEvent.clock_unknown
    ).execute()


def _boot_of(epoch: str) -> str:
    return epoch.split("+", 1)[0]


def _know_epochs(device: Device, bases: dict[str, int], now_ms: int) -> None:
    """Keep the bases a site gives of its clock epochs; derive the offsets they give."""
    if not bases:
        return
    DeviceClockEpoch.insert_many(
        [
            {"device": device.id, "epoch": epoch, "boot": _boot_of(epoch), "base_ms": base}
            for epoch, base in sorted(bases.items())
        ]
    ).on_conflict_ignore().execute()
    for boot in sorted({_boot_of(epoch) for epoch in bases}):
        _derive_offsets(device, boot, now_ms)


def _derive_offsets(device: Device, boot: str, now_ms: int) -> None:
    """Give every epoch of ``boot`` with a known base and no offset the offset that follows
    from the latest epoch of that boot learned online (the bases differ by the clock's step),
    correcting its events marked clock unknown."""
    epochs = {
        row.epoch: row.base_ms
        for row in DeviceClockEpoch.select().where(
            (DeviceClockEpoch.device == device.id) & (DeviceClockEpoch.boot == boot)
        )
    }
    if len(epochs) < 2:
        return
    learned = list(
        DeviceBootClock.select()
        .where((DeviceBootClock.device == device.id) & DeviceBootClock.boot_id.in_(sorted(epochs)))
        .order_by(DeviceBootClock.learned_ms.desc())
    )
    if not learned:
        return
    anchor = learned[0]
    anchor_ms = round(anchor.clock_offset_s * 1000)
    known = {row.boot_id for row in learned}
    for epoch, base in sorted(epochs.items()):
        if epoch not in known:
            derived = anchor_ms + epochs[anchor.boot_id] - base
            _learn_boot_offset(device, epoch, derived, now_ms)


def _fresh_contact(batch: Batch, offset_ms: int) -> dict[Any, Any]:
    """Return the device updates a new batch brings: last contact, clock, backlog, modem."""
    fresh = Device.acked_seq <= batch.last
    updates: dict[Any, Any] = {
        Device.last_seen_at: utcnow(),
        Device.last_clock_ms: Case(
            None,
            [
                (
                    Device.last_clock_ms.is_null() | (Device.last_clock_ms < batch.clock_ms),
                    batch.clock_ms,
                )
            ],
            Device.last_clock_ms,
        ),
        Device.backlog: Case(None, [(fresh, batch.backlog)], Device.backlog),
        Device.clock_offset_s: offset_ms / 1000,
        Device.protocol: batch.version,
        Device.decisions: batch.decisions,
    }
    if batch.site.get("kind") in ("TEC", "CTC"):
        updates[Device.site_kind] = batch.site["kind"]
    if batch.modem is not None:
        updates[Device.modem] = _dumps(batch.modem)
    return updates


def report_status(device: Device, clock_ms: int, body: bytes) -> dict[str, Any]:
    """Store the status a site reports at a sync (protocol 2) and return the answer.

    A report whose Pi clock is later than that of every request accepted before is a fresh
    contact: it stores the status, marks the site as seen, keeps the bases of its clock
    epochs and teaches the offset of the epoch it names (and those derived from it),
    correcting what came by USB from them. A replayed report changes nothing.

    Raises:
        ProtocolError: code ``bad_status``, the body is not a JSON object or its epochs'
            bases are malformed.
    """
    status = fleet_health.parse_status(body)
    try:
        bases = protocol.epoch_bases(json.loads(body).get("bases"))
    except protocol.ProtocolError as exc:
        raise protocol.ProtocolError(
            N_("The status report's clock epochs are malformed"), code=protocol.E_BAD_STATUS
        ) from exc
    now_ms = int(time.time() * 1000)
    offset_ms = now_ms - clock_ms
    with database.atomic():
        fresh = (
            Device.update(
                last_seen_at=utcnow(), last_clock_ms=clock_ms, clock_offset_s=offset_ms / 1000
            )
            .where(
                (Device.id == device.id)
                & (Device.last_clock_ms.is_null() | (Device.last_clock_ms < clock_ms))
            )
            .execute()
        )
        if fresh:
            fleet_health.store_status(device, status, VIA_ONLINE)
            _know_epochs(device, bases, now_ms)
            epoch = status.get("epoch")
            if isinstance(epoch, str) and epoch:
                _learn_boot_offset(device, epoch, offset_ms, now_ms)
                _derive_offsets(device, _boot_of(epoch), now_ms)
    return {"stored": bool(fresh), "server_time": now_ms, "clock_offset_s": offset_ms / 1000}


def hello(device: Device, clock_ms: int) -> dict[str, Any]:
    """Return the answer to a probe: versions, central time, what we hold of this device.

    The probe marks the device as seen only when its Pi clock is later than that of every
    request accepted before, so a captured probe sent again cannot make a silent site look
    alive.
    """
    Device.update(last_seen_at=utcnow(), last_clock_ms=clock_ms).where(
        (Device.id == device.id)
        & (Device.last_clock_ms.is_null() | (Device.last_clock_ms < clock_ms))
    ).execute()
    return {
        "protocol_versions": list(protocol.SUPPORTED_VERSIONS),
        "server_time": int(time.time() * 1000),
        "device_id": device.device_id,
        "acked_seq": device.acked_seq,
        "limits": {
            "max_body_bytes": protocol.MAX_BODY_BYTES,
            "max_events_per_batch": protocol.MAX_EVENTS_PER_BATCH,
        },
    }
