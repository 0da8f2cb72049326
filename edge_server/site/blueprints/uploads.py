"""Resumable uploads over HTTP: tus 1.0 (core, creation, termination, expiration).

A thin shell over ``edge_server.base.uploads``; docs/api.md ("Resumable uploads") is the client's
description. Each feature that takes large files adds a purpose (who may upload, how much)
with ``add_purpose`` and claims finished uploads itself: packs claim theirs in
``POST /api/v1/packs``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from flask_login import current_user

from ...base import uploads
from ...base.errors import N_, KruError, PermissionDenied, ValidationError
from ...web import bodylimit
from ...web.auth import role_required

log = logging.getLogger(__name__)

bp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads")

PURPOSES = "kru.upload_purposes"
OFFSET_STREAM = "application/offset+octet-stream"
_DIGITS = re.compile(r"^[0-9]{1,15}$")


@dataclass(frozen=True)
class Purpose:
    """Who may upload for one purpose, how many bytes, and the error past that."""

    roles: tuple[str, ...]
    max_bytes: Callable[[Any], int]  # from the site's settings
    too_large: Callable[[Any], KruError]


@bp.record_once
def _sweep_at_start(state: Any) -> None:
    """Remove uploads abandoned while the server was down (creation sweeps too)."""
    home = state.app.config.get("KRU_HOME")
    if home is not None:
        uploads.UploadStore(home).sweep()


def add_purpose(app: Flask, name: str, purpose: Purpose) -> None:
    """Let clients create uploads for ``name`` on ``app``."""
    app.extensions.setdefault(PURPOSES, {})[name] = purpose


def store() -> uploads.UploadStore:
    return uploads.UploadStore(current_app.config["KRU_HOME"], settings=current_app.config["KRU"])


def _number(header: str) -> int:
    value = request.headers.get(header, "")
    if not _DIGITS.match(value):
        raise ValidationError(
            N_("The header %(header)s must be a whole number"), code="invalid_header", header=header
        )
    return int(value)


def _tus_version() -> None:
    if request.headers.get("Tus-Resumable") != uploads.TUS_VERSION:
        raise KruError(
            N_("Send the header Tus-Resumable: %(version)s"),
            code="tus_version_unsupported",
            status=412,
            version=uploads.TUS_VERSION,
        )


def _answer(status: int, upload: uploads.Upload | None = None, body: Any = None) -> Response:
    response = jsonify(body) if body is not None else Response(status=status)
    response.status_code = status
    response.headers.update(uploads.tus_headers(upload))
    return response


@bp.after_request
def _tus_headers(response: Response) -> Response:
    response.headers.setdefault("Tus-Resumable", uploads.TUS_VERSION)
    if response.status_code == 412:
        response.headers["Tus-Version"] = uploads.TUS_VERSION
    return response


@bp.route("", methods=["OPTIONS"], provide_automatic_options=False)
def options():
    """tus discovery: version and extensions."""
    response = _answer(204)
    response.headers["Tus-Version"] = uploads.TUS_VERSION
    response.headers["Tus-Extension"] = ",".join(uploads.TUS_EXTENSIONS)
    return response


@bp.post("")
@role_required()
def create():
    """Start an upload: ``Upload-Length`` and ``Upload-Metadata`` (``purpose``, ``filename``)."""
    _tus_version()
    if "Upload-Defer-Length" in request.headers:
        raise ValidationError(
            N_("Send Upload-Length: this server needs the size first"), code="invalid_header"
        )
    length = _number("Upload-Length")
    metadata = uploads.parse_metadata(request.headers.get("Upload-Metadata", ""))
    name = metadata.get("purpose", "")
    purpose = current_app.extensions.get(PURPOSES, {}).get(name)
    if purpose is None:
        raise ValidationError(
            N_("Upload-Metadata must name a purpose: %(purposes)s"),
            code="unknown_purpose",
            purposes=", ".join(sorted(current_app.extensions.get(PURPOSES, {}))),
        )
    if current_user.role not in purpose.roles:
        raise PermissionDenied(N_("You may not upload this kind of file"))
    settings = current_app.config["KRU"]
    if length > purpose.max_bytes(settings):
        raise purpose.too_large(settings)
    upload = store().create(current_user.id, name, length, metadata)
    response = _answer(201, upload, uploads.as_json(upload))
    response.headers["Location"] = url_for("uploads.upload", upload_id=upload.id)
    return response


@bp.route("/<upload_id>", methods=["HEAD"])
@role_required()
def upload(upload_id: str):
    """Where the upload stands: ``Upload-Offset`` of ``Upload-Length``."""
    _tus_version()
    return _answer(200, store().get(upload_id, current_user.id))


@bp.patch("/<upload_id>")
@role_required()
@bodylimit.limit(uploads.CHUNK_BYTES)
def append(upload_id: str):
    """Add one chunk at ``Upload-Offset``; answer 204 with the new offset."""
    _tus_version()
    if request.mimetype != OFFSET_STREAM:
        raise KruError(
            N_("Send chunks with Content-Type: %(type)s"),
            code="unsupported_media_type",
            status=415,
            type=OFFSET_STREAM,
        )
    offset = _number("Upload-Offset")
    size = request.content_length or 0
    upload = store().append(upload_id, current_user.id, offset, request.stream.read, size)
    return _answer(204, upload)


@bp.delete("/<upload_id>")
@role_required()
def delete(upload_id: str):
    """Cancel the upload and remove what was sent (tus termination)."""
    _tus_version()
    store().delete(upload_id, current_user.id)
    return _answer(204)
