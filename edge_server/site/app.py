"""The site server's app factory: everything is built here, nothing at import."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask, got_request_exception
from flask_wtf.csrf import CSRFProtect

from content_packs.item_types import TYPE_LABELS

from ..accounts.models import User, UserSession
from ..base import integrity
from ..base.db import connect_kept, db, release_kept
from ..base.settings import BY_NAME, Settings, load_settings
from ..cpd import certificates
from ..web import auth, bodylimit, i18n, sessions, web_security
from ..web import error_handlers as web_errors
from ..web.routing import LazyBuildRule
from ..web.templating import KruEnvironment
from . import database, navigation
from .blueprints import (
    admin,
    api_learning,
    api_session,
    authoring,
    competencies,
    compress,
    core,
    cpd_certificates,
    cpd_discussion,
    cpd_sessions,
    essays,
    https_origin,
    learn,
    observations,
    offline_app,
    packs,
    portal,
    search,
    site_care,
    sync_panel,
    tasks,
    teach,
    uploads,
)
from .tls_front import TrustLocalFront

log = logging.getLogger(__name__)

BLUEPRINTS = (
    core.bp,
    api_session.bp,
    admin.bp,
    site_care.bp,
    uploads.bp,
    packs.bp,
    search.bp,
    sync_panel.bp,
    learn.bp,
    teach.bp,
    tasks.bp,
    essays.bp,
    observations.bp,
    api_learning.bp,
    portal.bp,
    compress.bp,
    https_origin.bp,
    offline_app.bp,
    authoring.bp,
    cpd_sessions.bp,
    cpd_certificates.bp,
    cpd_discussion.bp,
    competencies.bp,
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


def create_app(
    config: dict[str, Any] | None = None,
    settings: Settings | None = None,
    *,
    checked: integrity.IntegrityResult | None = None,
) -> Flask:
    """Build the site server.

    ``config`` holds Kru settings by name (``"data_dir"``, ``"sync.batch_size"``) and plain
    Flask keys (``"TESTING"``); settings not given come from ``KRU_CONFIG`` / ``KRU_*``.
    ``checked`` is SQLite's quick_check of the database that the caller has just run
    (``kru serve``, before choosing recovery mode); without it, it runs here. It reads the
    whole file: once per start, not twice (issue 22).

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
    certificates.configure(settings)
    if checked is None:
        checked = integrity.quick_check(home.database)  # once per start: it reads the whole file

    app = Flask(__name__)
    app.url_rule_class = LazyBuildRule  # before any route: URL builders made when first used
    app.jinja_environment = KruEnvironment  # before anything builds app.jinja_env
    web_security.install(app, settings)
    app.extensions["kru_integrity"] = checked
    got_request_exception.connect(_note_damage, app)
    sessions.init_sessions(
        app,
        settings,
        home,
        db,
        "flask_secret_key",
        days=settings["session_days"],
        user_model=User,
        session_model=UserSession,
    )
    app.config.update(SEND_FILE_MAX_AGE_DEFAULT=timedelta(days=365))
    app.config.update(flask_config)
    bodylimit.install(app)

    auth.init_login(app, "core.login")
    CSRFProtect(app)
    i18n.init_app(app)
    app.jinja_env.globals["item_type_labels"] = TYPE_LABELS  # learn/_macros.html type_label
    navigation.init_app(app)
    _init_db_hooks(app)
    web_errors.install(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.wsgi_app = TrustLocalFront(app.wsgi_app)  # type: ignore[method-assign]  # HTTPS through nginx on 127.0.0.1
    return app


def _note_damage(app: Flask, exception: BaseException, **extra: object) -> None:
    """Remember that SQLite called the database damaged, so ``/healthz`` says so at once."""
    if integrity.is_damage(exception) and app.extensions["kru_integrity"].ok:
        found = integrity.Damaged(app.config["KRU_HOME"].database, str(exception))
        log.error("%s", found.describe())
        app.extensions["kru_integrity"] = found


def _init_db_hooks(app: Flask) -> None:
    # The server (``kru serve``) keeps one connection per thread, so the pragmas run once per
    # thread instead of once per request; elsewhere each request opens and closes its own.

    @app.before_request
    def _connect() -> None:
        connect_kept()

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if app.config.get("KRU_KEEP_DB_CONNECTIONS"):
            release_kept()
        elif not db.is_closed():
            db.close()
