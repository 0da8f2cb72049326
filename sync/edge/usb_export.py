"""Sync by USB drive, the site's half: write pending batches to a drive, read central's ack.

``export_batches`` writes every batch after the cursor, signed exactly as the agent signs
them online, to ``<drive>/kru-sync/<device id>/``; it does not move the cursor. The cursor
moves when central's acknowledgement comes back: on the next online sync, or from the
signed ``central-ack.json`` central writes on the drive (``import_ack``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peewee import Database

from edge_server.base.datahome import DataHome
from edge_server.base.errors import N_
from edge_server.base.settings import Settings

from .. import protocol, usb_protocol
from ..usb_protocol import UsbSyncError
from . import site_status, state
from .batches import read_batch
from .identity import Identity

log = logging.getLogger(__name__)


@dataclass
class ExportResult:
    directory: Path
    batches: int = 0
    events: int = 0
    bytes: int = 0
    first: int = 0
    last: int = 0


def _site(settings: Settings) -> dict[str, Any]:
    return {
        "name": settings["site_name"],
        "kind": settings["site_kind"],
        "province": settings["province"],
    }


def export_batches(
    settings: Settings,
    db: Database,
    identity: Identity,
    root: Path,
    *,
    clock: Callable[[], float] = time.time,
    boot: str | None = None,
) -> ExportResult:
    """Write the batches after the cursor to ``root``; return what was written.

    Raises:
        UsbSyncError: ``root`` is not a writable folder.
    """
    if not root.is_dir():
        raise UsbSyncError(N_("The folder %(path)s does not exist"), path=str(root))
    folder = usb_protocol.device_dir(root, identity.device_id)
    boot = usb_protocol.current_boot() if boot is None else boot
    status = site_status.site_status(settings, DataHome(settings.data_dir))
    machine = site_status.machine(settings)
    current = state.read_state(db)
    after = current.cursor
    size = min(settings["sync.max_batch_size"], protocol.MAX_EVENTS_PER_BATCH)
    result = ExportResult(folder, first=after)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        while True:
            clock_ms = int(clock() * 1000)
            batch = read_batch(
                db,
                device_id=identity.device_id,
                after=after,
                limit=size,
                clock_ms=clock_ms,
                site=_site(settings),
            )
            if batch is None:
                break
            # Only the first batch may say that central holds less than its start (a range
            # set aside, section 5); the others start where the one before ended, so central
            # never acknowledges past a batch lost on the way.
            first = batch.after == current.cursor
            batch.acked = min(current.server_acked, current.cursor) if first else batch.after
            batch.backlog = state.pending_events(db, batch.last)
            batch.boot = boot
            batch.status = status
            batch.bases = usb_protocol.epoch_bases()
            body = protocol.encode_batch(batch)
            if len(body) > protocol.MAX_BODY_BYTES and len(batch.events) > 1:
                size = max(1, len(batch.events) // 2)
                continue
            headers = protocol.signed_headers(
                identity.secret,
                "POST",
                protocol.BATCHES_PATH,
                identity.device_id,
                batch.batch_id,
                body,
                clock_ms,
                protocol.PROTOCOL_VERSION,
                machine,
            )
            sidecar = {
                "headers": headers,
                "after": batch.after,
                "last": batch.last,
                "events": len(batch.events),
                "boot": boot,
                "minor": usb_protocol.PROTOCOL_MINOR,
            }
            name = batch.batch_id
            usb_protocol.write_atomic(folder / (name + usb_protocol.BODY_SUFFIX), body)
            usb_protocol.write_atomic(
                folder / (name + usb_protocol.SIDECAR_SUFFIX),
                json.dumps(sidecar, indent=1).encode(),
            )
            result.batches += 1
            result.events += len(batch.events)
            result.bytes += len(body)
            result.last = batch.last
            after = batch.last
    except OSError as exc:
        raise UsbSyncError(
            N_("Could not write to %(path)s: %(reason)s"), path=str(root), reason=exc.strerror
        ) from exc
    log.info("exported %s events in %s batches to %s", result.events, result.batches, folder)
    return result


def import_ack(db: Database, identity: Identity, root: Path, *, home: DataHome) -> tuple[int, int]:
    """Read and verify central's acknowledgement on the drive; return (acked seq, cursor).

    Events numbered since a restore of the site in ``home`` are first moved past the
    acknowledgement (``state.settle_restore``), so the cursor cannot skip them.

    Raises:
        UsbSyncError: no acknowledgement for this site, or one not signed by central.
    """
    path = usb_protocol.device_dir(root, identity.device_id) / usb_protocol.ACK_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UsbSyncError(
            N_("The drive holds no acknowledgement from the central server for this site"),
            code=usb_protocol.E_NO_ACK,
        ) from exc
    except (OSError, ValueError) as exc:
        raise UsbSyncError(
            N_("The acknowledgement file on the drive is damaged"), code=usb_protocol.E_BAD_ACK
        ) from exc
    ack = usb_protocol.verify_ack(identity.secret, identity.device_id, data)
    state.settle_restore(db, home, ack["acked_seq"])
    cursor = state.adopt_server_ack(db, ack["acked_seq"])
    return ack["acked_seq"], cursor
