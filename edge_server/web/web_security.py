"""What both servers (site and central) do to every request and answer for safety.

JSON bodies are parsed with a nesting bound, ``<int:...>`` URL parts stop at SQLite's
largest integer (a longer id is a 404, not an OverflowError), a Host header that no URL
can hold is a 400. Every page gets a Content-Security-Policy and the same security headers
on both servers; cookies are ``Secure`` on HTTPS; behind ``trusted_proxies`` reverse proxies
the client's address and scheme come from their X-Forwarded-* headers (Werkzeug ProxyFix),
so the sign-in limit counts per phone, not per proxy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadHost
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from ..base import jsonlimits

SQLITE_MAX_INT = 2**63 - 1

# Pages use only their own scripts, styles, fonts and media: no inline script or style (the
# progress bars are CSS classes), nothing from another origin (a lesson's <img> of a web
# address shows nothing instead of telling that site who reads it), framed only by the site
# itself. The html5 app iframe is a same-origin URL whose own answer carries a sandbox
# policy; pack files that could run (HTML, SVG) carry theirs too, and keep it.
PAGE_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing request bodies nested deeper than ``jsonlimits.MAX_DEPTH``.

    ``request.get_json()`` turns the ValueError into a 400 (or None when ``silent``).
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return jsonlimits.loads(s, **kwargs)


class DatabaseIntConverter(IntegerConverter):
    """``<int:...>`` that matches only ids SQLite can hold."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # Werkzeug's name
        kwargs.setdefault("max", SQLITE_MAX_INT)
        super().__init__(map, *args, **kwargs)


def secure_cookies_on_https(app: Callable) -> Callable:
    """Wrap a WSGI app so every cookie it sets over HTTPS is marked ``Secure``.

    Done at the WSGI edge, after the session is saved and whatever session store is in use:
    a phone that reached the server over HTTPS never sends its sign-in cookie in clear.
    """

    def wrapped(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("wsgi.url_scheme") != "https":
            return app(environ, start_response)

        def start(status: str, headers: list, exc_info: object = None):
            headers[:] = [
                (name, _secure(value) if name.lower() == "set-cookie" else value)
                for name, value in headers
            ]
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wrapped


def _secure(cookie: str) -> str:
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    return cookie if "secure" in attributes else cookie + "; Secure"


def pct_class(value: Any) -> int:
    """Return ``value`` as a whole percent 0..100, for a progress bar's ``w-N`` class."""
    try:
        return max(0, min(100, round(float(value))))
    except (TypeError, ValueError):
        return 0


def install(app: Flask, settings: Any = None) -> None:
    """Set the JSON bound, the id converter, the Host check, headers and proxy trust.

    Call it first in the factory: converters apply to routes added later, and the Host
    check must run before any other ``before_request`` (the captive portal builds URLs).
    """
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["int"] = DatabaseIntConverter
    app.jinja_env.filters["pct_class"] = pct_class

    @app.before_request
    def _refuse_bad_host() -> None:
        # A Host Werkzeug cannot encode (a label of 64+ characters) leaves the request
        # without URLs; answer 400 before any hook tries to build one.
        if isinstance(request.routing_exception, BadHost):
            raise request.routing_exception

    @app.after_request
    def _headers(response):
        # The names already set are found in one pass over the headers, not one per name
        # (``setdefault`` each): a fiftieth of every answer (issue 22).
        headers = response.headers
        present = {name.lower() for name in headers.keys()}
        for name, value in HEADERS.items():
            if name == "X-Frame-Options" and getattr(response, "any_frame", False):
                continue  # a view that may be framed by any page says so (SCORM pages)
            if name.lower() not in present:
                headers.add(name, value)
        if response.mimetype == "text/html":
            if "content-security-policy" not in present:
                headers.add("Content-Security-Policy", PAGE_CSP)
            if "cache-control" not in present:
                headers.add("Cache-Control", "no-store")
        return response

    app.wsgi_app = secure_cookies_on_https(app.wsgi_app)  # type: ignore[method-assign]
    proxies = settings["trusted_proxies"] if settings is not None else 0
    app.config["KRU_TRUSTED_PROXIES"] = proxies  # waitress keeps their headers then
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
