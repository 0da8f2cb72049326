"""Knowing the fleet: each site's reported status, silent sites, and identity clashes.

A site reports its status at each sync (protocol 2): Kru version, the firmware's power flags,
free disk, whether its clock was synchronised. Central keeps the latest per site and the
dashboard lists what needs someone's attention (issue 20 item 6).

Every request of protocol 2 is signed with a fingerprint of the machine that sent it. The
first machine seen with an identity holds it; another machine with the same identity (a
cloned SD card, a backup restored onto a second Pi) is refused with ``identity_clash`` and
flagged, until an admin marks the old machine replaced (``replace_machine``): then the new
one holds the identity and the old one is refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from peewee import fn

from edge_server.base.db import utcnow
from edge_server.base.errors import N_, KruError, NotFound, ValidationError
from sync import protocol

from .models import CentralEvent, Device

VIA_ONLINE = "online"
VIA_USB = "usb"
WARNINGS = ("silent", "never", "disk_low", "power", "heat", "clock", "identity_clash")
CLOCK_WARN_S = 300  # a Pi clock this far off central's is worth a look
_STATUS_KEYS = ("kru_version", "epoch", "power", "disk", "clock")


class IdentityClash(KruError):
    code = protocol.E_IDENTITY_CLASH
    status = 409


def check_machine(device: Device, machine: str) -> None:
    """Let the machine that first used this identity keep it; refuse and flag any other.

    Raises:
        IdentityClash: another machine holds the identity (409 ``identity_clash``).
    """
    if not machine or machine == protocol.NO_MACHINE:
        return  # a machine without /etc/machine-id cannot be told apart
    if device.machine is None:
        claimed = (
            Device.update(machine=machine)
            .where((Device.id == device.id) & Device.machine.is_null())
            .execute()
        )
        if claimed:
            device.machine = machine
            return
        device.machine = Device.get_by_id(device.id).machine
    if device.machine == machine:
        return
    if device.clash_machine != machine:
        Device.update(clash_machine=machine, clash_at=utcnow()).where(
            Device.id == device.id
        ).execute()
    raise IdentityClash(
        N_(
            "Another machine already syncs as %(device)s (a copied SD card, or a backup "
            "restored onto a second Pi); this one is refused until the ministry's device admin "
            "decides which Pi is the site"
        ),
        device=device.device_id,
    )


def replace_machine(device_id: str) -> Device:
    """Let the machine in the clash take over the identity: the old one was replaced.

    Raises:
        NotFound: no such device.
        ValidationError: code ``no_identity_clash``, no other machine was seen with it.
    """
    device = Device.get_or_none(Device.device_id == device_id)
    if device is None:
        raise NotFound(N_("No device %(id)s"), code="device_not_found", id=device_id)
    if not device.clash_machine:
        raise ValidationError(
            N_("No other machine was seen with %(id)s; there is nothing to replace"),
            code="no_identity_clash",
            id=device_id,
        )
    # The new machine's sequence numbers went their own way after the copy: what central
    # acknowledged of the old one says nothing of it. Its next batch sets the acknowledgement
    # afresh; until then central acknowledges nothing, so the new machine skips nothing.
    # Its events are kept in the device's next stream of numbers (generation): the old
    # machine's numbers stay unique, and so do the new one's.
    Device.update(
        machine=device.clash_machine,
        clash_machine=None,
        clash_at=None,
        replaced_machine=device.machine,
        replaced_at=utcnow(),
        acked_seq=0,
        rebase_ack=True,
        generation=_next_generation(device),
    ).where(Device.id == device.id).execute()
    return Device.get_by_id(device.id)


def _next_generation(device: Device) -> int:
    """Return a stream number above every stream of ``device`` (current or kept aside)."""
    held = (
        CentralEvent.select(fn.MAX(CentralEvent.generation))
        .where(CentralEvent.device == device.id)
        .scalar()
    )
    return 1 + max(device.generation, held or 0)


def _clean(value: Any, depth: int = 0) -> Any:
    """Return ``value`` with strings cut short and nothing nested deeper than three levels."""
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return value[:200]
    if depth >= 3:
        return None
    if isinstance(value, dict):
        return {str(k)[:60]: _clean(v, depth + 1) for k, v in list(value.items())[:40]}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value[:40]]
    return None


def parse_status(body: bytes) -> dict[str, Any]:
    """Return the status report in ``body`` (a JSON object), keeping only the known fields.

    Raises:
        ProtocolError: code ``bad_status``, not a JSON object.
    """
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise protocol.ProtocolError(
            N_("The status report is not JSON"), code=protocol.E_BAD_STATUS
        ) from exc
    if not isinstance(data, dict):
        raise protocol.ProtocolError(
            N_("The status report must be a JSON object"), code=protocol.E_BAD_STATUS
        )
    return {k: _clean(data[k]) for k in _STATUS_KEYS if k in data}


def store_status(device: Device, status: dict[str, Any], via: str) -> None:
    """Keep ``status`` as the site's latest; one carried on a drive never hides an online one."""
    status = {k: _clean(status[k]) for k in _STATUS_KEYS if k in status}
    if not status:
        return
    query = Device.update(
        status=json.dumps(status, ensure_ascii=False),
        status_at=utcnow(),
        status_via=via,
        kru_version=str(status.get("kru_version") or "")[:40] or Device.kru_version,
    ).where(Device.id == device.id)
    if via == VIA_USB:
        query = query.where(Device.status.is_null() | (Device.status_via == VIA_USB))
    query.execute()


def _age_days(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    try:
        seen = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=UTC)
    return (now - seen).total_seconds() / 86400


def _part(status: dict[str, Any], key: str) -> dict[str, Any]:
    value = status.get(key)
    return value if isinstance(value, dict) else {}


def site_health(device: Device, silent_days: int, now: datetime | None = None) -> dict[str, Any]:
    """Return one site's fleet card: last contact, Kru version, and its warnings.

    ``warnings`` holds codes: ``silent`` (not heard from for ``silent_days``), ``never``
    (never synced), ``disk_low``, ``power`` (under-voltage or throttling), ``heat``, ``clock``
    (its clock far from central's, or never heard online and not synchronised),
    ``identity_clash``.
    """
    now = now or datetime.now(UTC)
    status = json.loads(device.status) if device.status else {}
    warnings = []
    age = _age_days(device.last_seen_at, now)
    if age is None:
        warnings.append("never")
    elif age > silent_days:
        warnings.append("silent")
    disk = _part(status, "disk")
    power = _part(status, "power")
    clock = _part(status, "clock")
    if disk.get("low"):
        warnings.append("disk_low")
    if power.get("advice") == "power_supply":
        warnings.append("power")
    elif power.get("advice") == "cooling":
        warnings.append("heat")
    offset = device.clock_offset_s
    # A Pi heard online has its times corrected, synchronised or not; one never heard online
    # (USB only) with an unsynchronised clock sends times central cannot correct.
    if (offset is not None and abs(offset) > CLOCK_WARN_S) or (
        offset is None and clock.get("synchronised") is False
    ):
        warnings.append("clock")
    if device.clash_machine:
        warnings.append("identity_clash")
    return {
        "id": device.device_id,
        "name": device.name,
        "province": device.province,
        "enabled": bool(device.enabled),
        "last_seen_at": device.last_seen_at,
        "days_silent": None if age is None else int(age),
        "kru_version": device.kru_version,
        "status_at": device.status_at,
        "status_via": device.status_via,
        "disk_free_bytes": disk.get("free_bytes"),
        "power_found": power.get("found") or [],
        "on_pi": power.get("pi"),
        "clock_offset_s": offset,
        "clock_synchronised": clock.get("synchronised"),
        "clash_at": device.clash_at,
        "replaced_at": device.replaced_at,
        "warnings": warnings,
    }


def fleet(silent_days: int, now: datetime | None = None) -> dict[str, Any]:
    """Return every enabled site's card, those needing attention first, and the counts."""
    now = now or datetime.now(UTC)
    cards = [
        site_health(d, silent_days, now)
        for d in Device.select().where(Device.enabled).order_by(Device.province, Device.name)
    ]
    attention = [c for c in cards if c["warnings"]]
    counts: dict[str, int] = {}
    for card in cards:
        for code in card["warnings"]:
            counts[code] = counts.get(code, 0) + 1
    return {
        "silent_days": silent_days,
        "sites": len(cards),
        "attention": attention,
        "fine": [c for c in cards if not c["warnings"]],
        "counts": counts,
        "silent_since": (now - timedelta(days=silent_days)).isoformat(timespec="seconds"),
    }
