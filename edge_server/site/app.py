"""The site server's app factory: everything is built here, nothing at import."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from ..accounts.models import User
from ..base.db import db
from ..base.settings import BY_NAME, Settings, load_settings
from ..web import auth, i18n, sessions
from ..web import error_handlers as web_errors
from . import database, navigation
from .blueprints import (
    admin,
    api_learning,
    api_session,
    compress,
    core,
    learn,
    packs,
    portal,
    search,
    sync_panel,
    teach,
)

log = logging.getLogger(__name__)

BLUEPRINTS = (
    core.bp,
    api_session.bp,
    admin.bp,
    packs.bp,
    search.bp,
    sync_panel.bp,
    learn.bp,
    teach.bp,
    api_learning.bp,
    portal.bp,
    compress.bp,
)


def _split_config(config: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a test's or caller's dict into Kru settings and plain Flask config keys."""
    settings: dict[str, Any] = {}
    flask_config: dict[str, Any] = {}
    for key, value in (config or {}).items():
        name = key.replace("__", ".")
        if name in BY_NAME:
            settings[name] = value
        else:
            flask_config[key] = value
    return settings, flask_config


def create_app(config: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """Build the site server.

    ``config`` holds Kru settings by name (``"data_dir"``, ``"sync.batch_size"``) and plain
    Flask keys (``"TESTING"``); settings not given come from ``KRU_CONFIG`` / ``KRU_*``.

    Raises:
        KruError: the configuration or data directory is unusable.
    """
    overrides, flask_config = _split_config(config)
    settings = (
        settings.replace(**{k.replace(".", "__"): v for k, v in overrides.items()})
        if (settings is not None)
        else load_settings(overrides=overrides)
    )
    home, _db = database.open_site(settings)

    app = Flask(__name__)
    sessions.init_sessions(
        app, settings, home, db, "flask_secret_key", days=settings["session_days"]
    )
    app.config.update(
        MAX_CONTENT_LENGTH=settings["packs.max_upload_mb"] * 1024 * 1024 + 1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(days=365),
    )
    app.config.update(flask_config)

    auth.init_login(app, _find_user, "core.login")
    CSRFProtect(app)
    i18n.init_app(app)
    navigation.init_app(app)
    _init_db_hooks(app)
    web_errors.install(app)
    _init_security_headers(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app


def _find_user(user_id: int) -> User | None:
    return User.get_or_none(User.id == user_id)


def _init_db_hooks(app: Flask) -> None:
    @app.before_request
    def _connect() -> None:
        db.connect(reuse_if_open=True)

    # The server (``kru serve``) keeps one connection per thread, so the pragmas run once per
    # thread instead of once per request; elsewhere each request opens and closes its own.

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if db.is_closed():
            return
        if app.config.get("KRU_KEEP_DB_CONNECTIONS"):
            if db.connection().in_transaction:  # left open by a failed request
                db.connection().rollback()
            return
        db.close()


def _init_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):  # noqa: ANN001, ANN202
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if response.mimetype == "text/html" and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response
