"""What central has for a site (sync 1.1): the manifest, certificate requests, files.

Signed with the device secret exactly like ``hello`` and ``batches`` (docs/sync-protocol.md
§9); thin shells over ``site_certs``.
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, current_app, jsonify, request, send_file

from edge_server.web.api_errors import api_error
from sync import assigned_protocol as ap
from sync import protocol

from . import library, releases, site_certs
from .ingest import authenticate

bp = Blueprint("central_assigned", __name__)


def _domain() -> str:
    return current_app.config["KRU"]["central.https_domain"]


@bp.get(ap.ASSIGNED_PATH)
def assigned():
    device, _version, _clock = authenticate("GET", ap.ASSIGNED_PATH, request.headers, b"")
    items, https = site_certs.manifest_items(device, _domain())
    items += library.manifest_items(device)
    items += releases.manifest_items(device)
    return jsonify(
        {
            "protocol": protocol.PROTOCOL_VERSION,
            "minor": ap.PROTOCOL_MINOR,
            "device_id": device.device_id,
            "server_time": int(time.time() * 1000),
            "items": items,
            "https": https,
        }
    )


@bp.post(ap.CSR_PATH)
def csr():
    if request.content_length is not None and request.content_length > ap.MAX_CSR_BYTES:
        return api_error(ap.E_BAD_CSR, "The certificate request is too large", 413)
    body = request.stream.read(ap.MAX_CSR_BYTES + 1)
    device, _version, _clock = authenticate("POST", ap.CSR_PATH, request.headers, body)
    row = site_certs.accept_csr(device, body, _domain())
    return jsonify({"name": row.name, "state": row.state, "csr_sha256": row.csr_sha256}), 202


@bp.get(ap.FILES_PREFIX + "<sha256>")
def file(sha256: str):
    path = ap.file_path(sha256)
    device, _version, _clock = authenticate("GET", path, request.headers, b"")
    found = site_certs.file_for(device, sha256) if ap.SHA256_RE.match(sha256) else None
    if found is None and ap.SHA256_RE.match(sha256):
        home = current_app.config["KRU_HOME"]
        packed = library.file_for(device, home, sha256) or releases.file_for(device, home, sha256)
        if packed is not None:  # a pack file or a bundle: streamed, Range for resumed downloads
            sent = send_file(packed, mimetype="application/octet-stream", conditional=True)
            sent.headers["X-Kru-Content-SHA256"] = sha256
            sent.headers["Cache-Control"] = "no-store"
            return sent
    if found is None:
        return api_error(ap.E_NO_FILE, "Nothing with this sha256 is assigned to this device", 404)
    return Response(
        bytes(found.body),
        mimetype="application/octet-stream",
        headers={"X-Kru-Content-SHA256": found.sha256, "Cache-Control": "no-store"},
    )


@bp.post(ap.PACKS_REPORT_PATH)
def packs_report():
    if request.content_length is not None and request.content_length > ap.MAX_REPORT_BYTES:
        return api_error(ap.E_BAD_REPORT, "The pack report is too large", 413)
    body = request.stream.read(ap.MAX_REPORT_BYTES + 1)
    device, _version, _clock = authenticate("POST", ap.PACKS_REPORT_PATH, request.headers, body)
    try:
        report = json.loads(body)
    except ValueError:
        return api_error(ap.E_BAD_REPORT, "The pack report is not JSON", 400)
    stored = library.record_report(device, report)
    releases.record_report(device, report)  # 1.5: the release part, when the site sends one
    return jsonify({"stored": stored})
