"""``/api/v1/session`` of the site server: who am I, sign in, sign out."""

from __future__ import annotations

from ...accounts import authenticate
from ...web.sessions import session_blueprint, user_json

bp = session_blueprint(authenticate, user_json)
