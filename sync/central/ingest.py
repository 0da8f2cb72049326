"""Ingest of signed site batches: authenticate, decode, store each event at most once.

Idempotence lives in unique constraints, not in process state, so any number of central
processes on one PostgreSQL may ingest at once: events are inserted with ON CONFLICT DO
NOTHING on (device, event id), the batch record likewise on (device, batch id), and the
device's acknowledged sequence moves in one conditional UPDATE. Rows shared between sites
(catalog items) are written in key order and only when new or changed, so concurrent
batches neither deadlock nor queue behind one another.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Protocol

from peewee import Case, Database, DatabaseProxy, OperationalError

from edge_server.errors import N_, KruError
from sync import protocol
from sync.protocol import Batch

from . import certificates
from .db import is_postgres
from .models import (
    CatalogItem,
    Device,
    Person,
    SiteCohort,
    SiteCohortMember,
    SyncBatch,
    utcnow,
)

log = logging.getLogger(__name__)

INSERT_CHUNK = 1000


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

    Raises:
        ProtocolError: a header is missing, or the protocol version is not spoken here.
        SyncAuthError: unknown device or wrong signature (401); disabled device (403).
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
    return device, version, clock_ms


# One encoder for every event: json.dumps with options builds a new encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return _encode(value)


def _store_catalog(items: list[protocol.ItemRecord]) -> None:
    # Sessions and certificates (issue 16) travel as "urn:kru:..." objects: no catalog item.
    described = {it.key: it for it in items if not it.key.startswith("urn:")}
    if not described:
        return
    existing = {
        row.key: row for row in CatalogItem.select().where(CatalogItem.key.in_(list(described)))
    }
    new = [it for key, it in sorted(described.items()) if key not in existing]
    if new:
        CatalogItem.insert_many(
            [
                {
                    "key": it.key,
                    "type": it.type,
                    "title_km": it.title_km,
                    "title_en": it.title_en,
                    "course_key": it.course_key,
                    "course_title_km": it.course_title_km,
                    "course_title_en": it.course_title_en,
                    "course_items": it.course_items,
                }
                for it in new
            ]
        ).on_conflict_ignore().execute()
    for key, it in sorted(described.items()):
        old = existing.get(key)
        if old is None or not it.type:
            continue
        fresh = (
            it.type,
            it.title_km,
            it.title_en,
            it.course_key,
            it.course_title_km,
            it.course_title_en,
            it.course_items,
        )
        stored = (
            old.type,
            old.title_km,
            old.title_en,
            old.course_key,
            old.course_title_km,
            old.course_title_en,
            old.course_items,
        )
        if fresh != stored:
            CatalogItem.update(
                type=it.type,
                title_km=it.title_km,
                title_en=it.title_en,
                course_key=it.course_key,
                course_title_km=it.course_title_km,
                course_title_en=it.course_title_en,
                course_items=it.course_items,
            ).where(CatalogItem.key == key).execute()


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
                }
                for u in users
            ]
        ).on_conflict(
            conflict_target=[Person.device, Person.uid],
            preserve=[Person.username, Person.display_name, Person.role],
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
    "device_id, event_id, seq, user_uid, verb, object, result, context, client_ts, "
    "server_ms, corrected_ms, boot_id, received_ms"
)


def _insert_events(
    db: Database | DatabaseProxy,
    device_pk: int,
    events: list[protocol.EventRecord],
    offset_ms: int,
    now_ms: int,
) -> int:
    """Insert the events not yet held and return how many were new.

    One prepared statement for the whole batch (SQLite ``executemany``, PostgreSQL multi-row
    VALUES pages): building peewee's per-row SQL was half of the central server's CPU time
    per batch (docs/performance.md, item 7).
    """
    rows = [
        (
            device_pk,
            ev.id,
            ev.seq,
            ev.user_uid,
            ev.verb,
            ev.object,
            _dumps(ev.result),
            _dumps(ev.context),
            ev.client_ts,
            ev.server_ms,
            ev.server_ms + offset_ms,
            ev.boot_id,
            now_ms,
        )
        for ev in events
    ]
    if not rows:
        return 0
    cursor = db.cursor()
    if is_postgres(db):
        from psycopg2.extras import execute_values  # noqa: PLC0415 - only on PostgreSQL

        returned = execute_values(
            cursor,
            f"INSERT INTO central_events ({_EVENT_COLUMNS}) VALUES %s "  # noqa: S608 - constants
            "ON CONFLICT DO NOTHING RETURNING 1",
            rows,
            page_size=INSERT_CHUNK,
            fetch=True,
        )
        return len(returned)
    marks = ", ".join("?" * len(rows[0]))
    cursor.executemany(
        f"INSERT OR IGNORE INTO central_events ({_EVENT_COLUMNS}) VALUES ({marks})",  # noqa: S608
        rows,
    )
    return max(cursor.rowcount, 0)


def ingest_batch(
    db: Database | DatabaseProxy,
    device: Device,
    batch: Batch,
    *,
    body_bytes: int = 0,
    received_ms: int | None = None,
) -> dict[str, Any]:
    """Store ``batch`` of ``device`` in one transaction and return the acknowledgement.

    Raises:
        ProtocolError: the batch names another device.
        ServerBusy: the database asked us to retry (deadlock, lock timeout).
    """
    if batch.device_id != device.device_id:
        raise protocol.ProtocolError(N_("The batch belongs to another device"))
    now_ms = int(time.time() * 1000) if received_ms is None else received_ms
    offset_ms = now_ms - batch.clock_ms
    try:
        with db.atomic():
            _store_catalog(batch.items)
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
                    clock_offset_s=offset_ms / 1000,
                )
                .on_conflict_ignore()
                .as_rowcount()
                .execute()
            )
            _store_people(
                device, batch, latest=bool(new_batch) and batch.last > (device.acked_seq or 0)
            )
            stored = _insert_events(db, device.id, batch.events, offset_ms, now_ms)
            certificates.store(device, batch)  # issue 16: signed certificates, the site's key
            if new_batch:
                SyncBatch.update(stored=stored).where(
                    (SyncBatch.device == device.id) & (SyncBatch.batch_id == batch.batch_id)
                ).execute()
            fresh = Device.acked_seq <= batch.last
            updates: dict[Any, Any] = {
                Device.last_seen_at: utcnow(),
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
                Device.backlog: Case(None, [(fresh, batch.backlog)], Device.backlog),
                Device.clock_offset_s: offset_ms / 1000,
                Device.protocol: protocol.PROTOCOL_VERSION,
            }
            if batch.site.get("kind") in ("TEC", "CTC"):
                updates[Device.site_kind] = batch.site["kind"]
            if batch.modem is not None:
                updates[Device.modem] = _dumps(batch.modem)
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
        "clock_offset_s": round(offset_ms / 1000, 3),
        "protocol": protocol.PROTOCOL_VERSION,
    }


def hello(device: Device) -> dict[str, Any]:
    """Return the answer to a probe: versions, central time, what we hold of this device."""
    Device.update(last_seen_at=utcnow()).where(Device.id == device.id).execute()
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
