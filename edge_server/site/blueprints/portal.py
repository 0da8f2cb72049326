"""Captive portal: phones that join the site Wi-Fi open the Kru sign-in page by themselves.

The hotspot's DNS answers every name with the Pi (deploy/raspberrypi/hotspot), so a phone's
own "is there internet?" probe reaches this server: Android asks for ``/generate_204``, Apple
for ``/hotspot-detect.html``, Windows for ``/connecttest.txt`` or ``/ncsi.txt``. Until someone
signed in from that address, the probe is redirected to the sign-in page, which the phone shows
as "Sign in to network". After a sign-in from that address the probe gets the answer the phone
expects, so it keeps the Wi-Fi without warning that it has no internet. Any other request for a
foreign host name (a bookmarked news site) is sent to the sign-in page on ``kru.local``.
"""

from __future__ import annotations

import ipaddress
import threading
import time

from flask import Blueprint, Flask, Response, current_app, redirect, request, url_for
from flask_login import user_logged_in
from werkzeug.wrappers import Response as BaseResponse

PORTAL_HOST = "kru.local"
ACCEPT_SECONDS = 12 * 3600  # the hotspot's DHCP lease: a phone keeps its address that long
MAX_CLIENTS = 10_000

bp = Blueprint("portal", __name__)

# path -> (what the phone expects once it may use the network: status, body, mimetype)
PROBES: dict[str, tuple[int, str, str]] = {
    "/generate_204": (204, "", "text/plain"),  # Android, Chrome
    "/gen_204": (204, "", "text/plain"),  # older Android
    "/hotspot-detect.html": (  # Apple iOS and macOS
        200,
        "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
        "text/html",
    ),
    "/library/test/success.html": (
        200,
        "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
        "text/html",
    ),
    "/connecttest.txt": (200, "Microsoft Connect Test", "text/plain"),  # Windows 10 and 11
    "/ncsi.txt": (200, "Microsoft NCSI", "text/plain"),  # older Windows
    "/success.txt": (200, "success\n", "text/plain"),  # Firefox
}


class PortalClients:
    """Addresses that signed in recently, so their phone's probes may succeed."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def accept(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._until) >= MAX_CLIENTS:
                self._until = {a: t for a, t in self._until.items() if t > now}
            self._until[address] = now + ACCEPT_SECONDS

    def accepted(self, address: str) -> bool:
        return self._until.get(address, 0.0) > time.monotonic()


def is_site_host(host: str) -> bool:
    """Return whether ``host`` (without port) names this server rather than a foreign site."""
    name = host.rstrip(".").lower()
    if name in ("localhost", "") or name.endswith(".local") or "." not in name:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def split_host(host: str) -> tuple[str, str]:
    """Return (name, port) of a Host header; the port is "" when not given."""
    if host.startswith("["):  # an IPv6 literal
        name, _, rest = host[1:].partition("]")
        return name, rest.lstrip(":")
    name, _, port = host.partition(":")
    return name, port


def _sign_in_url() -> str:
    name, port = split_host(request.host)
    if is_site_host(name):
        return url_for("core.login")
    netloc = PORTAL_HOST + (f":{port}" if port and port != "80" else "")
    return f"http://{netloc}{url_for('core.login')}"


def _clients() -> PortalClients:
    return current_app.extensions["kru_portal"]


def _probe() -> BaseResponse:
    response: BaseResponse
    if _clients().accepted(request.remote_addr or ""):
        status, body, mimetype = PROBES[request.path]
        response = Response(body, status=status, mimetype=mimetype)
    else:
        response = redirect(_sign_in_url(), code=302)
    response.headers["Cache-Control"] = "no-store"  # phones must ask again after sign-in
    return response


for _path in PROBES:
    bp.add_url_rule(
        _path, endpoint=_path.strip("/").replace(".", "_").replace("/", "_"), view_func=_probe
    )


@bp.before_app_request
def _foreign_host():  # a redirect or None
    """Send a request for a foreign site (answered by the captive DNS) to the sign-in page."""
    if request.path in PROBES or request.method not in ("GET", "HEAD"):
        return None
    name = split_host(request.host)[0]
    if is_site_host(name) or _is_https_name(name):
        return None
    response = redirect(_sign_in_url(), code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


def _is_https_name(name: str) -> bool:
    """Whether ``name`` is this site's HTTPS name (issue 23), which is not a foreign site."""
    origin = current_app.extensions.get("kru_https")
    return origin is not None and bool(name) and name.rstrip(".").lower() == origin.host()


def _remember_sign_in(sender: Flask, user: object, **extra: object) -> None:
    if "kru_portal" in sender.extensions:
        sender.extensions["kru_portal"].accept(request.remote_addr or "")


@bp.record_once
def _init(state) -> None:  # flask BlueprintSetupState
    state.app.extensions["kru_portal"] = PortalClients()
    user_logged_in.connect(_remember_sign_in, state.app)
