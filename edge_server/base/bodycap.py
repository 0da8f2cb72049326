"""What the server needs to know of an app's request body caps (no waitress import here).

The app (``edge_server.web.bodylimit``) knows each route's cap; the server
(``edge_server.base.capped_channel``) asks it as soon as a request's headers arrive and
refuses a larger body there, unread. The app then answers that request itself, with its
usual 413 (the JSON error or the error page), told by ``REFUSED`` that no body came.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# (method, path) -> the largest body that route takes, in bytes.
RouteCap = Callable[[str, str], int]

# The WSGI environ key set on a request whose body the server refused unread. Not an
# HTTP_* key, so no client can set it.
REFUSED = "kru.body_refused"


@dataclass(frozen=True)
class BodyCap:
    """Each route's body cap (``route_cap``) and the largest of them (``max_bytes``)."""

    max_bytes: int
    route_cap: RouteCap
