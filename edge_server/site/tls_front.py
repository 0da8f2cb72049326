"""Requests through the site's TLS front, and the HTTPS origin they should move to.

nginx (deploy/raspberrypi/tls/nginx-kru.conf) terminates HTTPS and passes requests to
waitress on 127.0.0.1 with ``X-Forwarded-Proto: https`` and the phone's address in
``X-Forwarded-For``. ``TrustLocalFront`` believes those two headers only from a loopback
peer, so a phone cannot fake them, and every phone keeps its own sign-in rate limit.
``HttpsOrigin`` answers "is HTTPS up, and where?" from the installed certificate: up while
a chain for this site's key is installed and not expired (checked per request against the
expiry read once per file change), down otherwise, so a lapsed certificate sends nobody to a
broken origin.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from ..base.datahome import DataHome

LOOPBACK_PEERS = ("127.0.0.1", "::1")


class TrustLocalFront:
    """WSGI middleware: take scheme and client address from the local TLS front's headers."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("REMOTE_ADDR") in LOOPBACK_PEERS:
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "")
            if proto == "https":
                environ["wsgi.url_scheme"] = "https"
                environ["HTTPS"] = "on"
                forwarded = environ.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
                try:
                    environ["REMOTE_ADDR"] = str(ipaddress.ip_address(forwarded))
                except ValueError:
                    pass
        return self.app(environ, start_response)


class HttpsOrigin:
    """Where this site serves HTTPS, while a valid certificate is installed."""

    def __init__(self, settings: Any, home: DataHome) -> None:
        self.enabled = bool(settings["https.domain"])
        self.port = settings["https.port"]
        self.home = home
        self._lock = threading.Lock()
        self._mtime = -1.0
        self._name = ""
        self._not_after: datetime | None = None

    def _refresh(self) -> None:
        # Imported here: it brings in cryptography, which start-up avoids (issue 9) and a
        # site without an HTTPS name never needs.
        from ..base import site_tls

        mtime = site_tls.chain_mtime(self.home)
        if mtime == self._mtime:
            return
        with self._lock:
            name, not_after = site_tls.serving_name(self.home)
            self._name, self._not_after, self._mtime = name, not_after, mtime

    def host(self) -> str:
        """Return the name of the installed certificate, expired or not ("" when none)."""
        if not self.enabled:
            return ""
        self._refresh()
        return self._name

    def name(self, now: datetime | None = None) -> str:
        """Return the host name HTTPS is served for now, or "" when HTTPS is down."""
        if not self.enabled:
            return ""
        self._refresh()
        if not self._name or self._not_after is None:
            return ""
        return self._name if (now or datetime.now(UTC)) < self._not_after else ""

    def origin(self, now: datetime | None = None) -> str:
        """Return ``https://name[:port]``, or "" when HTTPS is down."""
        name = self.name(now)
        if not name:
            return ""
        return f"https://{name}" + ("" if self.port == 443 else f":{self.port}")
