"""A waitress channel that refuses a request body over its route's cap before reading it.

waitress reads a whole body before the app runs (past 512 KB into a temporary file), and
its own ``max_request_body_size`` is one number for the whole server. Central's release
upload takes 256 MB, so with that number alone a 255 MB body to the sign-in form or the
16 KiB status report was read to disk before the route refused it: a cheap way to fill
the disk and hold threads. Here the parser asks the app for the route's cap as soon as the
headers are parsed, and for a chunked body as it grows. Past the cap the request is
completed at once with no body, the rest is never read, the app answers it (its 413, told
by ``REFUSED`` in the environ) and the connection is closed after that answer.
"""

from __future__ import annotations

import logging
from typing import Any

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.task import WSGITask
from waitress.utilities import RequestEntityTooLarge

from .bodycap import REFUSED, RouteCap

log = logging.getLogger(__name__)

# A chunked body's framing (chunk sizes, extensions, line ends) may add this much, and as
# much again as the body, before it counts against the cap; more is an attack on the parser.
FRAMING_SLACK = 64 * 1024


def _no_cap(method: str, path: str) -> int:
    return 1 << 62


class CappedParser(HTTPRequestParser):
    """waitress's request parser, refusing a body over ``route_cap(method, path)`` unread."""

    route_cap: Any = staticmethod(_no_cap)  # a RouteCap; replaced by ``capped_channel``
    # Set by waitress's parser (its stubs leave them out or read-only).
    path: str
    headers: dict[str, str]
    cap = 1 << 62
    refused = False

    def received(self, data: bytes) -> int:
        """Take ``data`` of the request; past the route's cap complete it with no body."""
        if self.completed:
            return 0
        in_headers = self.body_rcv is None
        consumed = super().received(data)
        if isinstance(self.error, RequestEntityTooLarge):  # waitress's own, server-wide cap
            self._refuse()
            return len(data)
        if self.error is not None or self.body_rcv is None:
            return consumed
        if in_headers:
            self.cap = self._route_cap()
        if self._over_cap():
            self._refuse()
            return len(data)  # the bytes of the body already here are dropped
        return consumed

    def _route_cap(self) -> int:
        path = self.path
        if path.startswith("/"):
            path = "/" + path.lstrip("/")  # as waitress gives it to the app (PATH_INFO)
        try:
            return int(type(self).route_cap(self.command, path))
        except Exception:  # the app checks again; a bug here must not drop the connection
            log.exception("no body cap for %s %s", self.command, path)
            return 1 << 62

    def _over_cap(self) -> bool:
        if not self.chunked:
            return self.content_length > self.cap
        body = self.body_rcv.__len__() if self.body_rcv is not None else 0
        return body > self.cap or self.body_bytes_received > 2 * self.cap + FRAMING_SLACK

    def _refuse(self) -> None:
        if self.chunked:
            seen = self.body_rcv.__len__() if self.body_rcv is not None else 0
            self.headers["CONTENT_LENGTH"] = str(seen)
        if self.body_rcv is not None:
            self.body_rcv.getbuf().close()
            self.body_rcv = None
        self.error = None
        self.refused = True
        self.completed = True
        self.expect_continue = False  # no "100 Continue": the client need not send the body
        self.headers["CONNECTION"] = "close"  # the rest of the body is never read


class RefusedAwareTask(WSGITask):
    """waitress's WSGI task, telling the app when the server refused the request's body."""

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        if getattr(self.request, "refused", False):
            environ[REFUSED] = True
        return environ


def capped_channel(route_cap: RouteCap) -> type[HTTPChannel]:
    """Return a waitress channel class whose requests are capped by ``route_cap``."""
    parser = type("KruRequestParser", (CappedParser,), {"route_cap": staticmethod(route_cap)})
    return type(
        "KruChannel", (HTTPChannel,), {"parser_class": parser, "task_class": RefusedAwareTask}
    )
