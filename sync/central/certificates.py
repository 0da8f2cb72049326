"""Certificates on the central server (issue 16, items 8-9): stored from sites' batches,
checked with the key each site registered, served for verification and CPD records.

Central never decides a certificate: it keeps what the site signed. A site's Ed25519 public
key arrives in its batch header (``site.signing_key``, covered by the batch signature); the
first one is registered, and a different one later is held as *offered* and not used until
an admin accepts it (``kru central device accept-key``), so a stolen device secret cannot
swap the key that vouches for a site's certificates without anyone noticing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edge_server.base.errors import N_, NotFound
from sync import certificate_record as rec
from sync.protocol import Batch

from .models import CentralCertificate, Device, Person

log = logging.getLogger(__name__)

OBJECT_PREFIX = "urn:kru:certificate:"


class UnknownCode(NotFound):
    code = "certificate_not_found"


def register_key(device: Device, offered: Any) -> None:
    """Register ``offered`` as the device's key, or hold it when the device has another."""
    if not isinstance(offered, str) or not offered or len(offered) > 100:
        return
    if device.signing_key is None:
        Device.update(signing_key=offered, offered_signing_key=None).where(
            (Device.id == device.id) & Device.signing_key.is_null()
        ).execute()
        device.signing_key = offered
    elif device.signing_key != offered and device.offered_signing_key != offered:
        log.warning("device %s offers a different signing key; held for an admin", device.device_id)
        Device.update(offered_signing_key=offered).where(Device.id == device.id).execute()
        device.offered_signing_key = offered


def accept_key(device_id: str) -> str:
    """Make the device's offered signing key its key; return the key.

    Raises:
        NotFound: no such device, or it offers no other key.
    """
    device = Device.get_or_none(Device.device_id == device_id)
    if device is None or not device.offered_signing_key:
        raise NotFound(N_("Device %(device)s offers no new signing key"), device=device_id)
    key = device.offered_signing_key
    Device.update(signing_key=key, offered_signing_key=None).where(Device.id == device.id).execute()
    return str(key)


def store(device: Device, batch: Batch) -> None:
    """Store the certificates and revocations of ``batch`` (inside ingest's transaction)."""
    register_key(device, batch.site.get("signing_key"))
    for ev in batch.events:
        if not ev.object.startswith(OBJECT_PREFIX):
            continue
        context = ev.context if isinstance(ev.context, dict) else {}
        if ev.verb == "certified" and rec.is_record(context.get("record")):
            record = context["record"]
            CentralCertificate.insert(
                device=device.id,
                code=record["code"],
                event_id=ev.id,
                user_uid=ev.user_uid,
                name=str(record["learner"].get("name", ""))[:300],
                hours=float(record["hours"]),
                issued=str(record["issued"])[:10],
                record=rec.canonical(record).decode("utf-8"),
                signature=str(context.get("signature", "")),
            ).on_conflict_ignore().execute()
        elif ev.verb == "revoked":
            CentralCertificate.update(
                revoked_at=datetime.fromtimestamp(ev.server_ms / 1000, UTC).isoformat(
                    timespec="seconds"
                ),
                revoked_reason=str(context.get("reason", ""))[:500],
            ).where(
                (CentralCertificate.device == device.id)
                & (CentralCertificate.code == ev.object[len(OBJECT_PREFIX) :])
            ).execute()


@dataclass
class Verified:
    row: CentralCertificate
    record: dict[str, Any]
    signed: bool
    key_pending: bool

    def json(self) -> dict[str, Any]:
        revoked = self.row.revoked_at is not None
        return {
            "code": self.row.code,
            "valid": self.signed and not revoked,
            "status": "unverifiable" if not self.signed else "revoked" if revoked else "valid",
            "signature_valid": self.signed,
            "name": self.record.get("learner", {}).get("name"),
            "course": {k: self.record.get("course", {}).get(k) for k in ("key", "km", "en")},
            "hours": self.record.get("hours"),
            "issued": self.record.get("issued"),
            "site": self.record.get("site", {}).get("name"),
            "device": self.row.device.device_id,
            "revoked_at": self.row.revoked_at,
            "revoked_reason": self.row.revoked_reason or None,
            "key_pending": self.key_pending,
            "record": self.record,
            "signature": self.row.signature,
        }


def verify(code: str) -> Verified:
    """Return the certificate with ``code`` and whether its site's registered key signed it.

    Raises:
        UnknownCode: no synced certificate has this code (yet).
    """
    normal = rec.normalize_code(code)
    row = (
        CentralCertificate.select(CentralCertificate, Device)
        .join(Device)
        .where(CentralCertificate.code == normal)
        .first()
        if normal
        else None
    )
    if row is None:
        raise UnknownCode(N_("No certificate with this code has reached the central server yet."))
    try:
        record = json.loads(row.record)
    except ValueError:
        record = {}
    key = row.device.signing_key
    signed = bool(
        key
        and isinstance(record, dict)
        and record.get("code") == row.code
        and record.get("site", {}).get("device") == row.device.device_id
        and rec.verify(key, record, row.signature)
    )
    return Verified(
        row,
        record if isinstance(record, dict) else {},
        signed,
        bool(row.device.offered_signing_key),
    )


@dataclass
class CpdLine:
    verified: Verified
    username: str

    @property
    def hours(self) -> float:
        counted = self.verified.signed and self.verified.row.revoked_at is None
        return float(self.verified.row.hours) if counted else 0.0


def cpd_record(query: str = "", limit: int = 500) -> list[CpdLine]:
    """Return certificates across sites whose learner's name or username contains ``query``."""
    rows = (
        CentralCertificate.select(CentralCertificate, Device)
        .join(Device)
        .order_by(CentralCertificate.name, CentralCertificate.issued)
        .limit(limit)
    )
    people: dict[tuple[int, str], str] = {}
    query_people = Person.select(Person.device, Person.uid, Person.username).tuples()
    for device_pk, uid, username in query_people.iterator():
        people[(int(device_pk), str(uid))] = str(username)
    out = []
    needle = query.strip().casefold()
    for row in rows:
        username = people.get((row.device.id, row.user_uid), "")
        if needle and needle not in row.name.casefold() and needle not in username.casefold():
            continue
        out.append(CpdLine(verify(row.code), username))
    return out


CSV_HEADER = [
    "name",
    "username",
    "site",
    "device_id",
    "course_key",
    "course_title_km",
    "course_title_en",
    "hours",
    "issued",
    "code",
    "status",
]


def cpd_rows(lines: list[CpdLine]) -> Iterator[list[Any]]:
    """Yield the CSV header and one row per certificate (hours 0 unless valid)."""
    yield CSV_HEADER
    for line in lines:
        body = line.verified.json()
        yield [
            body["name"],
            line.username,
            body["site"],
            body["device"],
            body["course"]["key"],
            body["course"]["km"],
            body["course"]["en"],
            line.hours,
            body["issued"],
            body["code"],
            body["status"],
        ]
