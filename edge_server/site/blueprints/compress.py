"""Gzip pages and JSON for phones that accept it; files and media are sent as they are.

Khmer text is three bytes a character in UTF-8, so a lesson page is mostly text that
gzip shrinks four to five times; waitress does not compress (bench/, issue 9: a lesson
page of 15 KB became 4 KB). Streamed responses (CSV exports), files sent with
``send_file`` (static files, media with Range) and small bodies are left alone.
"""

from __future__ import annotations

import gzip

from flask import Blueprint, Response, request

bp = Blueprint("compress", __name__)

COMPRESSIBLE = {"text/html", "application/json", "text/plain", "image/svg+xml"}
MIN_BYTES = 1024  # below this the gzip header and a second round trip of CPU are not worth it
LEVEL = 5  # nearly the size of level 9 at a third of the CPU, which a Pi has little of


def _accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


@bp.after_app_request
def gzip_response(response: Response) -> Response:
    """Compress ``response`` in place when the client accepts gzip and it is worth it."""
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
