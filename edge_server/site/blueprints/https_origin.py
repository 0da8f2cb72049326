"""Moving signed-in users from plain HTTP to the site's HTTPS origin, with their queue.

Plain HTTP keeps working (the captive portal needs it). While a valid certificate is
installed, a signed-in user's page request over HTTP gets a small page instead, which first
sends the learning events the phone queued on the HTTP origin, then opens
``https://<site>/https/handover`` with a one-time sign-in token and, in the URL fragment
(never sent to any server), whatever could not be sent. The HTTPS page stores those in its
own queue (two origins keep two browser storages) and opens the page asked for.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from ...base.db import db
from ...web.sessions import safe_next as _safe_next
from ...web.sessions import start_session
from ..tls_front import HttpsOrigin
from .core import home_url_for
from .portal import PROBES

bp = Blueprint("https", __name__)

HANDOVER_SALT = "kru-https-handover"
HANDOVER_MAX_AGE_S = 120
# Requests that never move: files and API calls (their pages move), the portal's probes.
STAY_PREFIXES = ("/static/", "/api/", "/https/", "/healthz", "/media/", "/learn/media/")


def https_origin() -> HttpsOrigin:
    return current_app.extensions["kru_https"]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=HANDOVER_SALT)


class UsedTokens:
    """Nonces of handover tokens already used (this process; a token lives two minutes)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, nonce: str) -> bool:
        now = time.monotonic()
        with self._lock:
            self._seen = {n: t for n, t in self._seen.items() if t > now}
            if nonce in self._seen:
                return False
            self._seen[nonce] = now + HANDOVER_MAX_AGE_S * 2
            return True


def _accepts_html(environ: dict[str, Any]) -> bool:
    """``request.accept_mimetypes.accept_html`` without the KeyError Werkzeug raises and
    catches when there is no Accept header (a raise on every page otherwise)."""
    accept = environ.get("HTTP_ACCEPT")
    return bool(accept) and parse_accept_header(accept, MIMEAccept).accept_html


@bp.before_app_request
def _move_to_https():  # a page or None
    if request.scheme != "http" or request.method != "GET":
        return None
    if request.path.startswith(STAY_PREFIXES) or request.path in PROBES:
        return None
    if not current_user.is_authenticated:
        return None
    # The origin first: parsing the Accept header on every page of a site without HTTPS
    # cost a learner page a fortieth of its time (issue 22).
    origin = https_origin().origin()
    if not origin or not _accepts_html(request.environ):
        return None
    token = _serializer().dumps({"u": current_user.id, "n": secrets.token_urlsafe(12)})
    target = origin + url_for("https.handover", t=token, next=request.full_path.rstrip("?"))
    response = Response(
        render_template(
            "https/moving.html",
            target=target,
            user=current_user.id,
            events_url=url_for("api_learning.post_events"),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/https/handover")
def handover():
    """Sign the user in on the HTTPS origin from a token made on the HTTP origin."""
    from ...accounts.models import User

    next_url = _safe_next(request.args.get("next"))
    try:
        data = _serializer().loads(request.args.get("t", ""), max_age=HANDOVER_MAX_AGE_S)
        user_id, nonce = int(data["u"]), str(data["n"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return redirect(url_for("core.login", next=next_url))
    user = User.get_or_none(User.id == user_id)
    fresh = current_app.extensions["kru_https_tokens"].first_use(nonce)
    if user is not None and user.active and fresh:
        with db.atomic():
            start_session(user)
    elif not current_user.is_authenticated:
        return redirect(url_for("core.login", next=next_url))
    response = Response(
        render_template("https/arrived.html", next_url=next_url or home_url_for(current_user.role))
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.record_once
def _init(state) -> None:  # flask BlueprintSetupState
    app = state.app
    app.extensions["kru_https"] = HttpsOrigin(app.config["KRU"], app.config["KRU_HOME"])
    app.extensions["kru_https_tokens"] = UsedTokens()
