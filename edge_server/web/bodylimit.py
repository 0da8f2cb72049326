"""Request body caps: every endpoint refuses a body over its cap before anything reads it.

Each view's cap is the ``limit`` decorator's, ``DEFAULT_BYTES`` otherwise. waitress reads
a whole request body before the app runs (past 512 KB into a temporary file), so the caps
hold at two places:

* in the server, as soon as a request's headers are parsed: ``route_cap`` tells
  ``edge_server.base.capped_channel`` the cap of the route a method and path reach; a
  larger Content-Length (or a chunked body growing past it) is refused there, the rest of
  the body never read, and the request reaches the app marked ``bodycap.REFUSED`` with no
  body; waitress's own ``max_request_body_size`` stays one byte above ``largest`` as a
  backstop;
* in the app, before the first hook that could parse the body (CSRF reads forms): a
  request the server refused, a Content-Length over the cap, or a stream without a length
  read past it gets the route's 413 (its JSON error or the error page, in the user's
  language).

The largest caps are one resumable-upload chunk (``uploads.CHUNK_BYTES``) and one sync
batch; sign-in, events and every form take at most ``DEFAULT_BYTES`` (issue 12).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app, request
from werkzeug.exceptions import HTTPException

from ..base.bodycap import REFUSED, BodyCap
from ..base.errors import N_, KruError

MIB = 1024 * 1024
DEFAULT_BYTES = 1 * MIB
ATTRIBUTE = "kru_body_limit"
EXTENSION = "kru.body_limit"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class BodyLimit:
    """The most bytes a request body may have, and the error code and message past it."""

    max_bytes: int
    code: str = "body_too_large"
    message: str = N_("The request is larger than %(limit)s MB, the most this address accepts.")

    @property
    def limit_mb(self) -> int:
        return max(1, round(self.max_bytes / MIB))

    def error(self) -> BodyTooLarge:
        return BodyTooLarge(self.message, code=self.code, limit=self.limit_mb)


class BodyTooLarge(KruError):
    code = "body_too_large"
    status = 413


DEFAULT = BodyLimit(DEFAULT_BYTES)


def limit(max_bytes: int, code: str = DEFAULT.code, message: str = DEFAULT.message) -> Callable:
    """Give a view a body cap of its own (instead of ``DEFAULT_BYTES``)."""

    def mark(view: F) -> F:
        setattr(view, ATTRIBUTE, BodyLimit(max_bytes, code, message))
        return view

    return mark


def limit_for(app: Flask, endpoint: str | None) -> BodyLimit:
    """Return the cap of ``endpoint`` (the app's default for none or an unknown one)."""
    view = app.view_functions.get(endpoint or "")
    return getattr(view, ATTRIBUTE, None) or app.extensions.get(EXTENSION, DEFAULT)


def largest(app: Flask) -> int:
    """Return the largest body any endpoint of ``app`` accepts, in bytes."""
    caps = [limit_for(app, endpoint).max_bytes for endpoint in app.view_functions]
    return max([app.extensions.get(EXTENSION, DEFAULT).max_bytes, *caps])


def current_error() -> BodyTooLarge:
    """Return the 413 error of the current request's endpoint."""
    return limit_for(current_app, request.endpoint).error()


class _CappedInput:
    """A body stream of unknown length that raises the cap's error past ``cap.max_bytes``.

    (Werkzeug's own maximum on such streams stops quietly at the limit, so a parser would
    see a cut body and answer 400 instead of 413.)
    """

    def __init__(self, stream: Any, cap: BodyLimit) -> None:
        self.stream = stream
        self.cap = cap
        self.seen = 0

    def _count(self, data: bytes) -> bytes:
        self.seen += len(data)
        if self.seen > self.cap.max_bytes:
            raise self.cap.error()
        return data

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(64 * 1024):
                chunks.append(chunk)
            return b"".join(chunks)
        return self._count(self.stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._count(self.stream.readline(size))

    def close(self) -> None:
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


def _check() -> None:
    cap = limit_for(current_app, request.endpoint)
    environ = request.environ
    if environ.get(REFUSED):
        raise cap.error()  # the server found the body over a cap and never read it
    # Most requests (every GET) name no body: looked up in the environ, the missing headers
    # cost nothing, where ``request.content_length`` raises and catches two KeyErrors.
    if "CONTENT_LENGTH" in environ or "HTTP_TRANSFER_ENCODING" in environ:
        length = request.content_length
    else:
        length = None
    if length is None:
        # waitress gives every body a Content-Length (it undoes chunked encoding); another
        # server that terminates the stream gets it counted as it is read.
        if request.environ.get("wsgi.input_terminated"):
            request.environ["wsgi.input"] = _CappedInput(request.environ["wsgi.input"], cap)
        return
    if length > cap.max_bytes:
        raise cap.error()


def install(app: Flask, default: BodyLimit = DEFAULT) -> None:
    """Cap every request body of ``app``: ``default`` unless a view has its own ``limit``."""
    app.extensions[EXTENSION] = default
    # First of all hooks: Flask-WTF's CSRF check would parse a form body.
    app.before_request_funcs.setdefault(None, []).insert(0, _check)


def route_cap(app: Flask) -> Callable[[str, str], int]:
    """Return a function (method, path) -> the body cap of the route they reach, in bytes.

    A path no route takes, or a method it does not allow, gets the app's default cap (the
    app answers it 413 before its 404 or 405, as for any body over that cap).
    """
    urls = app.url_map

    def cap(method: str, path: str) -> int:
        try:
            endpoint, _args = urls.bind("localhost").match(path, method=method)
        except HTTPException:
            endpoint = None
        return limit_for(app, endpoint).max_bytes

    return cap


def server_cap(app: Flask) -> BodyCap:
    """Return the server's caps for ``app``: each route's, and the largest as a backstop."""
    return BodyCap(largest(app), route_cap(app))
