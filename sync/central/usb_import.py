"""Import site batches carried on a USB drive (``kru central import DIR``, the upload page).

Each batch is a body and a sidecar holding the headers of the request the site would have
sent online (``sync.usb_protocol``). Both are checked by ``ingest.authenticate`` exactly as a
request is, and stored by ``ingest.ingest_batch``: the same exactly-once rules (batch id,
event ids, unique constraints) whichever way a batch arrives. For every site on the drive an
acknowledgement file, signed with the site's secret, is written back for the site to read.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peewee import Database, DatabaseProxy

from edge_server.base.errors import N_, KruError
from sync import protocol, usb_protocol
from sync.usb_protocol import UsbSyncError

from . import ingest
from .models import Device

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    replays: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)
    acks: dict[str, int] = field(default_factory=dict)  # device id -> acked seq written

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "replays": self.replays,
            "refused": self.refused,
            "acks": self.acks,
        }


def _sidecars(root: Path) -> list[Path]:
    top = root / usb_protocol.TOP_DIR
    if not top.is_dir():
        raise UsbSyncError(
            N_("No Kru sync data on this drive (no %(dir)s folder)"),
            code=usb_protocol.E_NO_BATCHES,
            dir=usb_protocol.TOP_DIR,
        )
    found = [
        p for p in top.glob(f"*/*{usb_protocol.SIDECAR_SUFFIX}") if p.name != usb_protocol.ACK_FILE
    ]
    return sorted(found, key=_in_sequence)


def _in_sequence(sidecar: Path) -> tuple[str, int, str]:
    """Order a site's batches by where they start: central acknowledges contiguously, so a
    batch imported before the one it follows would be held back."""
    try:
        after = int(json.loads(sidecar.read_text())["after"])
    except (OSError, ValueError, KeyError, TypeError):
        after = -1  # damaged: refused when read, first
    return sidecar.parent.name, after, sidecar.name


def _read_pair(sidecar: Path) -> tuple[dict[str, str], bytes]:
    try:
        meta = json.loads(sidecar.read_text())
        headers = {str(k): str(v) for k, v in meta["headers"].items()}
        body_path = sidecar.with_name(sidecar.name[: -len(usb_protocol.SIDECAR_SUFFIX)])
        body = body_path.with_name(body_path.name + usb_protocol.BODY_SUFFIX).read_bytes()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsbSyncError(N_("A batch file on the drive is missing or damaged")) from exc
    if len(body) > protocol.MAX_BODY_BYTES:
        raise protocol.ProtocolError(
            N_("A batch body may have at most %(limit)s MB; send smaller batches"),
            code=protocol.E_BATCH_TOO_LARGE,
            limit=protocol.MAX_BODY_BYTES // (1024 * 1024),
        )
    return headers, body


def import_one(db: Database | DatabaseProxy, sidecar: Path) -> tuple[Device, dict[str, Any]]:
    """Authenticate and ingest one batch file; return its device and acknowledgement.

    Raises:
        KruError: the file is damaged, tampered with, or not from a known enabled device.
    """
    headers, body = _read_pair(sidecar)
    device, _version, _clock = ingest.authenticate("POST", protocol.BATCHES_PATH, headers, body)
    batch = protocol.decode_batch(body)
    if batch.batch_id != headers.get(protocol.H_BATCH):
        raise protocol.ProtocolError(N_("The batch id in the body differs from the header"))
    ack = ingest.ingest_batch(db, device, batch, body_bytes=len(body), via=ingest.VIA_USB)
    return device, ack


def import_dir(
    db: Database | DatabaseProxy, root: Path, *, now_ms: int | None = None
) -> ImportReport:
    """Ingest every batch under ``root/kru-sync`` and write each site's acknowledgement.

    A refused file (damaged, tampered, unknown device) is listed in the report and nothing
    of it is stored; the other files are imported.

    Raises:
        UsbSyncError: the drive holds no Kru sync data.
    """
    report = ImportReport()
    devices: dict[str, Device] = {}
    for sidecar in _sidecars(root):
        name = f"{sidecar.parent.name}/{sidecar.name}"
        try:
            device, ack = import_one(db, sidecar)
        except KruError as exc:
            log.warning("USB batch %s refused: %s", name, exc.message)
            report.refused.append({"file": name, "code": exc.code, "message": exc.message})
            continue
        devices[device.device_id] = device
        report.batches += 1
        report.stored += ack["stored"]
        report.duplicates += ack["duplicates"]
        report.replays += 1 if ack["replay"] else 0
    for device_id in sorted(devices):
        report.acks[device_id] = write_ack(root, device_id, now_ms=now_ms)
    return report


def write_ack(root: Path, device_id: str, *, now_ms: int | None = None) -> int:
    """Write the signed acknowledgement of what central holds of ``device_id``; return it."""
    device = Device.get(Device.device_id == device_id)
    folder = usb_protocol.device_dir(root, device_id)
    batches = sorted(
        p.name[: -len(usb_protocol.BODY_SUFFIX)]
        for p in folder.glob(f"*{usb_protocol.BODY_SUFFIX}")
    )
    ack = usb_protocol.sign_ack(
        device.secret,
        {
            "device": device_id,
            "acked_seq": int(device.acked_seq or 0),
            "server_time": int(time.time() * 1000) if now_ms is None else now_ms,
            "batches": batches,
        },
    )
    usb_protocol.write_atomic(folder / usb_protocol.ACK_FILE, json.dumps(ack, indent=1).encode())
    return int(ack["acked_seq"])
