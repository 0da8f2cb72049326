"""Flask's signed session cookie, with its signature checked once per process and cookie.

Flask builds a new ``URLSafeTimedSerializer`` for every request (which serialises an empty
dict to find out whether its serializer makes text) and checks the cookie's signature
again although a phone sends the same cookie with every request: together a tenth of a
learner page's CPU time (issue 22). ``KruSessionInterface`` keeps the serializer per
secret key and, per cookie it has verified, the cookie's data and the time it was signed.
A cookie seen again is checked against the session lifetime (as itsdangerous does) and
its data copied into a new session; any other cookie goes through the full check.

Only cookies whose values are all immutable scalars (text, numbers, booleans, None) are
kept, so no request can change what a later one reads: flashed messages (a list) and the
like are decoded from the cookie each time.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

VERIFIED_KEPT = 1024  # cookies kept per process: a class or two of phones
_SCALARS = (str, int, float, bool, type(None))


class KruSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions whose serializer is built once per key, each cookie verified
    once (see the module's doc)."""

    def __init__(self) -> None:
        # (signing keys, serializer, cookie -> (data, signed at in whole seconds)); replaced
        # as one tuple when the keys change, so a thread never mixes two keys' cookies.
        self._kept: (
            tuple[tuple[Any, ...], URLSafeTimedSerializer, dict[str, tuple[dict[str, Any], int]]]
            | None
        ) = None

    def _state(
        self, app: Flask
    ) -> tuple[URLSafeTimedSerializer, dict[str, tuple[dict[str, Any], int]]] | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        kept = self._kept
        if kept is None or kept[0] != keys:
            serializer = super().get_signing_serializer(app)
            if serializer is None:
                return None
            kept = self._kept = (keys, serializer, {})
        return kept[1], kept[2]

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        state = self._state(app)
        return None if state is None else state[0]

    @property
    def verified_count(self) -> int:
        """How many cookies are kept as verified (for tests and the performance page)."""
        return 0 if self._kept is None else len(self._kept[2])

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        state = self._state(app)
        if state is None:
            return None
        serializer, verified = state
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        hit = verified.get(value)
        if hit is not None:
            data, signed_at = hit
            age = int(time.time()) - signed_at
            if 0 <= age <= max_age:
                return self.session_class(data)  # a copy: the kept data stays as it was
            verified.pop(value, None)
        try:
            data, signed = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if isinstance(data, dict) and all(isinstance(v, _SCALARS) for v in data.values()):
            if len(verified) >= VERIFIED_KEPT:
                verified.clear()
            verified[value] = (dict(data), int(signed.timestamp()))
        return self.session_class(data)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        """Flask's, answering the usual case in short: a page that read an unchanged
        session whose cookie is not sent again gets ``Vary: Cookie`` and nothing else.

        Flask looked up seven cookie settings first and parsed the ``Vary`` header into a
        set to add one word (a fiftieth of a signed-in page, issue 22).
        """
        if session and not self.should_set_cookie(app, session):
            if session.accessed:
                vary_cookie(response)
            return
        super().save_session(app, session, response)


def vary_cookie(response: Response) -> None:
    """Add ``Cookie`` to ``response``'s ``Vary`` header, as ``response.vary.add`` does."""
    if "Vary" in response.headers:
        response.vary.add("Cookie")
    else:
        response.headers["Vary"] = "Cookie"
