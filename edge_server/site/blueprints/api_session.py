"""``/api/v1/session`` of the site server: who am I, sign in, sign out, change my password."""

from __future__ import annotations

from ...accounts import authenticate, set_password
from ...web.sessions import session_blueprint, user_json

bp = session_blueprint(authenticate, user_json, set_password)
