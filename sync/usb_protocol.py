"""Sync by USB drive (protocol 1.3): the files both ends read and write, and their signing.

A site writes each pending batch to ``<drive>/kru-sync/<device id>/`` as the body an online
sync would send (``<batch id>.ndjson.gz``) and a sidecar (``<batch id>.json``) holding the
very headers of that request, signed the same way (``signed_headers``). Central ingests the
pair as if it had arrived on ``POST /api/v1/sync/batches`` and writes an acknowledgement file
(``central-ack.json``) beside them, signed with the device's secret, which the site reads
when the drive comes back.
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path
from typing import Any

from edge_server.base.errors import N_, KruError
from edge_server.system import clock_epoch

from . import protocol

PROTOCOL_MINOR = 3
TOP_DIR = "kru-sync"
BODY_SUFFIX = ".ndjson.gz"
SIDECAR_SUFFIX = ".json"
ACK_FILE = "central-ack.json"
ACK_METHOD = "ACK"
ACK_PATH = "/usb/ack"  # the "path" the acknowledgement's signature covers

E_NO_BATCHES = "usb_no_batches"
E_NO_ACK = "usb_no_ack"
E_BAD_ACK = "usb_bad_ack"
E_BAD_FILE = "usb_bad_file"


class UsbSyncError(KruError):
    """A drive or file that cannot be used for sync by USB."""

    code = E_BAD_FILE
    status = 400


def current_boot() -> str:
    """Return this machine's clock epoch: boot id, plus the changes of the clock (protocol 2)."""
    return clock_epoch.current()


def epoch_bases() -> dict[str, int]:
    """Return the base of each clock epoch of this boot (protocol 2: central derives one
    epoch's offset from another's)."""
    return clock_epoch.bases()


def device_dir(root: Path, device_id: str) -> Path:
    return root / TOP_DIR / device_id


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, flushed to the drive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _ack_payload(ack: dict[str, Any]) -> bytes:
    fields = {k: ack[k] for k in ("device", "acked_seq", "server_time", "batches")}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def sign_ack(secret: str, ack: dict[str, Any]) -> dict[str, Any]:
    """Return ``ack`` with its HMAC signature (the device's secret, as for requests)."""
    digest = protocol.body_digest(_ack_payload(ack))
    message = protocol.string_to_sign(
        ACK_METHOD, ACK_PATH, ack["device"], protocol.NO_BATCH, ack["server_time"], digest
    )
    return {**ack, "signature": protocol.sign(secret, message)}


def verify_ack(secret: str, device_id: str, data: Any) -> dict[str, Any]:
    """Return the acknowledgement ``data`` when central signed it for ``device_id``.

    Raises:
        UsbSyncError: not an acknowledgement, for another device, or a wrong signature.
    """
    try:
        ack = {
            "device": str(data["device"]),
            "acked_seq": int(data["acked_seq"]),
            "server_time": int(data["server_time"]),
            "batches": [str(b) for b in data["batches"]],
        }
        signature = str(data["signature"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsbSyncError(
            N_("The acknowledgement file on the drive is damaged"), code=E_BAD_ACK
        ) from exc
    if ack["device"] != device_id:
        raise UsbSyncError(
            N_("The acknowledgement file is for another site (%(device)s)"),
            code=E_BAD_ACK,
            device=ack["device"],
        )
    if not hmac.compare_digest(sign_ack(secret, ack)["signature"], signature.lower()):
        raise UsbSyncError(
            N_("The acknowledgement file is not signed by the central server; it was refused"),
            code=E_BAD_ACK,
        )
    return ack
