"""The sync endpoints sites call: ``hello`` (probe) and ``batches`` (ingest)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from edge_server.errors import N_
from sync import protocol

from . import ingest
from .db import database

bp = Blueprint("central_sync", __name__)


def _read_body() -> bytes:
    """Return the request body, refusing more than the protocol's limit before reading it."""
    if request.content_length is not None and request.content_length > protocol.MAX_BODY_BYTES:
        raise protocol.ProtocolError(
            N_("A batch body may have at most %(limit)s bytes; send smaller batches"),
            code=protocol.E_BATCH_TOO_LARGE,
            status=413,
            limit=protocol.MAX_BODY_BYTES,
        )
    body = request.stream.read(protocol.MAX_BODY_BYTES + 1)
    if len(body) > protocol.MAX_BODY_BYTES:
        raise protocol.ProtocolError(
            N_("A batch body may have at most %(limit)s bytes; send smaller batches"),
            code=protocol.E_BATCH_TOO_LARGE,
            status=413,
            limit=protocol.MAX_BODY_BYTES,
        )
    return body


@bp.get(protocol.HELLO_PATH)
def hello():  # noqa: ANN201
    device, _version, clock_ms = ingest.authenticate(
        "GET", protocol.HELLO_PATH, request.headers, b""
    )
    return jsonify(ingest.hello(device, clock_ms))


@bp.post(protocol.BATCHES_PATH)
def batches():  # noqa: ANN201
    body = _read_body()
    device, _version, _clock = ingest.authenticate(
        "POST", protocol.BATCHES_PATH, request.headers, body
    )
    batch = protocol.decode_batch(body)
    if batch.batch_id != request.headers.get(protocol.H_BATCH):
        raise protocol.ProtocolError(N_("The batch id in the body differs from the header"))
    return jsonify(ingest.ingest_batch(database, device, batch, body_bytes=len(body)))
