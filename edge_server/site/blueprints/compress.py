"""Gzip pages, JSON and the site's own stylesheets and scripts for phones that accept it.

Khmer text is three bytes a character in UTF-8, so a lesson page is mostly text that
gzip shrinks four to five times; waitress does not compress (bench/, issue 9: a lesson
page of 15 KB became 4 KB). The app's CSS and JavaScript files are gzipped too, once per
file version, kept in memory (issue 14 item 19: the first page on a 400 kbit/s link waited
for them). Streamed responses (CSV exports), media and pack files (sent with Range),
fonts and images (compressed already) and small bodies are left alone.
"""

from __future__ import annotations

import gzip
import os
from functools import lru_cache

from flask import Blueprint, Response, current_app, request
from werkzeug.security import safe_join

bp = Blueprint("compress", __name__)

COMPRESSIBLE = {"text/html", "application/json", "text/plain", "image/svg+xml"}
MIN_BYTES = 1024  # below this the gzip header and a second round trip of CPU are not worth it
LEVEL = 5  # nearly the size of level 9 at a third of the CPU, which a Pi has little of
STATIC_TYPES = {"text/css", "text/javascript", "application/javascript"}
STATIC_LEVEL = 9  # compressed once per file version, so the best ratio costs nothing later


def _accepts_gzip() -> bool:
    # From the environ: ``request.headers.get`` raises and catches a KeyError when it is missing.
    return "gzip" in request.environ.get("HTTP_ACCEPT_ENCODING", "").lower()


@lru_cache(maxsize=64)
def _gzipped_file(path: str, _mtime_ns: int, _size: int) -> bytes:
    """Return the gzip of the file at ``path`` (cached per path, modification time and size)."""
    with open(path, "rb") as fh:
        return gzip.compress(fh.read(), compresslevel=STATIC_LEVEL, mtime=0)


def _static_path() -> str | None:
    """Return the file a static-file request is answered from, or None for other requests."""
    endpoint = request.endpoint or ""
    if endpoint != "static" and not endpoint.endswith(".static"):
        return None
    name, _, _ = endpoint.rpartition(".")
    folder = current_app.blueprints[name].static_folder if name else current_app.static_folder
    filename = (request.view_args or {}).get("filename", "")
    return safe_join(folder, filename) if folder and filename else None


def _gzip_static(response: Response) -> Response:
    """Answer a static CSS or JavaScript file gzipped, with the same (now weak) ETag."""
    path = _static_path()
    if path is None:
        return response
    stat = os.stat(path)
    if stat.st_size < MIN_BYTES:
        return response
    body = _gzipped_file(path, stat.st_mtime_ns, stat.st_size)
    response.close()  # the file send_file opened
    response.direct_passthrough = False
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    etag, _weak = response.get_etag()
    if etag:
        response.set_etag(etag, weak=True)
    return response


@bp.after_app_request
def gzip_response(response: Response) -> Response:
    """Compress ``response`` in place when the client accepts gzip and it is worth it."""
    if (
        response.status_code == 200
        and response.direct_passthrough
        and response.mimetype in STATIC_TYPES
        and "Content-Encoding" not in response.headers
        and _accepts_gzip()
    ):
        return _gzip_static(response)
    if (
        response.status_code != 200
        or response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or response.mimetype not in COMPRESSIBLE
        or not _accepts_gzip()
    ):
        return response
    body = response.get_data()
    if len(body) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response
