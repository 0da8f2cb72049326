"""The sync endpoints sites call: ``hello`` (probe) and ``batches`` (ingest)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from edge_server.base.errors import N_
from edge_server.web import bodylimit
from sync import protocol

from . import ingest
from .db import database

bp = Blueprint("central_sync", __name__)


def _read_body() -> bytes:
    """Return the request body (its size is capped before this runs: ``bodylimit``)."""
    return request.stream.read(protocol.MAX_BODY_BYTES + 1)


@bp.get(protocol.HELLO_PATH)
def hello():
    device, _version, clock_ms = ingest.authenticate(
        "GET", protocol.HELLO_PATH, request.headers, b""
    )
    return jsonify(ingest.hello(device, clock_ms))


@bp.post(protocol.STATUS_PATH)
@bodylimit.limit(
    protocol.MAX_STATUS_BYTES,
    code=protocol.E_BAD_STATUS,
    message=N_("The status report is too large"),
)
def status():
    body = request.stream.read(protocol.MAX_STATUS_BYTES + 1)
    device, _version, clock_ms = ingest.authenticate(
        "POST", protocol.STATUS_PATH, request.headers, body
    )
    return jsonify(ingest.report_status(device, clock_ms, body))


@bp.post(protocol.BATCHES_PATH)
@bodylimit.limit(
    protocol.MAX_BODY_BYTES,
    code=protocol.E_BATCH_TOO_LARGE,
    message=N_("A batch body may have at most %(limit)s MB; send smaller batches"),
)
def batches():
    body = _read_body()
    device, _version, _clock = ingest.authenticate(
        "POST", protocol.BATCHES_PATH, request.headers, body
    )
    batch = protocol.decode_batch(body)
    if batch.batch_id != request.headers.get(protocol.H_BATCH):
        raise protocol.ProtocolError(N_("The batch id in the body differs from the header"))
    return jsonify(ingest.ingest_batch(database, device, batch, body_bytes=len(body)))
