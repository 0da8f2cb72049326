"""A waitress channel that refuses a request body over its route's cap before reading it.

waitress reads a whole body before the app runs (past 512 KB into a temporary file), and
its own ``max_request_body_size`` is one number for the whole server. Central's release
upload takes 256 MB, so with that number alone a 255 MB body to the sign-in form or the
16 KiB status report was read to disk before the route refused it: a cheap way to fill
the disk and hold threads. Here the parser asks the app for the route's cap as soon as the
headers are parsed, and for a chunked body as it grows. Past the cap the request is
completed at once with no body, the rest is never read, the app answers it (its 413, told
by ``REFUSED`` in the environ) and the connection is closed after that answer.

Closed at once, with the client still sending the body, the connection would be reset:
the client's send fails and, on many stacks, the answer it had not read yet is dropped, so
a browser uploading a video to a form capped lower showed "connection reset" instead of
the 413 page. So the close lingers, as Apache's and nginx's do: once the answer is sent the
server shuts its side (the client reads the answer to its end) and reads and discards what
still comes, in waitress's async loop (no thread held, nothing kept), until the client
closes, or ``LINGER_IDLE_S`` pass with nothing, or ``LINGER_S`` or ``LINGER_BYTES`` are
used up; only then is the socket closed.
"""

from __future__ import annotations

import logging
import socket
import time
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

# How long, and how much, a refused body is drained after its 413 (nginx lingers up to 30 s,
# 5 s idle). A Pi on Wi-Fi takes a few MB/s: a 300 MB video is cut after ``LINGER_S``, and
# only then is reset (its answer already sent whole, and long read by most clients).
LINGER_S = 10.0
LINGER_IDLE_S = 2.0
LINGER_BYTES = 64 * 1024 * 1024
# One buffer for every draining channel (waitress's async loop is one thread; what it reads
# into this is dropped anyway).
_DRAIN = memoryview(bytearray(64 * 1024))


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


class LingeringChannel(HTTPChannel):
    """waitress's channel, draining a refused body for a while before it closes."""

    refused_body = False  # a request on this connection had its body refused unread
    linger_until = 0.0  # while lingering: when to close at the latest (0: not lingering)
    idle_until = 0.0  # while lingering: when to close if nothing more comes
    drained = 0

    def service(self) -> None:  # in a task thread
        if self.requests and getattr(self.requests[0], "refused", False):
            self.refused_body = True
        super().service()

    def handle_close(self) -> None:
        if self.linger_until or not self._start_lingering():
            super().handle_close()

    def _start_lingering(self) -> bool:
        # Only once the whole answer went out: a close for any other reason (the client
        # hung up, a socket error, waitress's idle timeout while lingering) is a close.
        if not self.refused_body or self.total_outbufs_len or self.socket is None:
            return False
        try:
            self.socket.shutdown(socket.SHUT_WR)  # the answer ends here (FIN after it)
        except OSError:
            return False
        now = time.monotonic()
        self.linger_until = now + LINGER_S
        self.idle_until = now + LINGER_IDLE_S
        self.will_close = self.close_when_flushed = False
        self.readable = self._lingering_readable  # type: ignore[method-assign]
        self.writable = self._lingering_writable  # type: ignore[method-assign]
        return True

    # While lingering the loop asks these instead of waitress's readable()/writable(): set
    # on the instance by _start_lingering, so every other connection answers the loop (each
    # turn, every connection) with waitress's own methods and no wrapper's call.
    def _lingering_readable(self) -> bool:
        now = time.monotonic()
        if now >= self.linger_until or now >= self.idle_until:
            self.will_close = True  # closed by handle_write in this turn of the loop
            return False
        return True

    def _lingering_writable(self) -> bool:
        return bool(self.will_close)

    def handle_read(self) -> None:
        if not self.linger_until:
            super().handle_read()
            return
        sock = self.socket
        try:
            count = sock.recv_into(_DRAIN) if sock is not None else 0
        except BlockingIOError:
            return
        except OSError:
            count = 0
        self.drained += count
        self.idle_until = time.monotonic() + LINGER_IDLE_S
        if not count or self.drained >= LINGER_BYTES:
            super().handle_close()


def capped_channel(route_cap: RouteCap) -> type[HTTPChannel]:
    """Return a waitress channel class whose requests are capped by ``route_cap``."""
    parser = type("KruRequestParser", (CappedParser,), {"route_cap": staticmethod(route_cap)})
    return type(
        "KruChannel",
        (LingeringChannel,),
        {"parser_class": parser, "task_class": RefusedAwareTask},
    )
