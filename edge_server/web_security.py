"""What both servers (site and central) do to every request and answer for safety.

JSON bodies are parsed with a nesting bound, ``<int:...>`` URL parts stop at SQLite's
largest integer (a longer id is a 404, not an OverflowError), a Host header that no URL
can hold is a 400.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadHost
from werkzeug.routing import IntegerConverter

from . import jsonlimits

SQLITE_MAX_INT = 2**63 - 1


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing request bodies nested deeper than ``jsonlimits.MAX_DEPTH``.

    ``request.get_json()`` turns the ValueError into a 400 (or None when ``silent``).
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return jsonlimits.loads(s, **kwargs)


class DatabaseIntConverter(IntegerConverter):
    """``<int:...>`` that matches only ids SQLite can hold."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - Werkzeug's name
        kwargs.setdefault("max", SQLITE_MAX_INT)
        super().__init__(map, *args, **kwargs)


def install(app: Flask) -> None:
    """Set the JSON bound, the id converter and the Host check on ``app``.

    Call it first in the factory: converters apply to routes added later, and the Host
    check must run before any other ``before_request`` (the captive portal builds URLs).
    """
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["int"] = DatabaseIntConverter

    @app.before_request
    def _refuse_bad_host() -> None:
        # A Host Werkzeug cannot encode (a label of 64+ characters) leaves the request
        # without URLs; answer 400 before any hook tries to build one.
        if isinstance(request.routing_exception, BadHost):
            raise request.routing_exception
