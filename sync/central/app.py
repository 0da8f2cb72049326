"""The central server's app factory: everything is built here, nothing at import."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, request
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from edge_server.base.datahome import DataHome
from edge_server.base.localtime import local_text
from edge_server.base.settings import BY_NAME, Settings, load_settings
from edge_server.web import auth, bodylimit, i18n, layout, sessions, web_security
from edge_server.web import error_handlers as web_errors

from . import charts, request_ids
from .db import database, open_central
from .models import CentralSession, CentralUser

log = logging.getLogger(__name__)

LAYOUT = layout.Layout(
    brand=lazy_gettext("Kru central"),
    home="dashboard.index",
    login="dashboard.login",
    language="dashboard.language",
    logout="dashboard.logout",
    stylesheets=(("dashboard.static", "central.css"),),
)


def central_links() -> list[tuple[str, str]]:
    """Return the central server's header links (signed-in users only)."""
    if not current_user.is_authenticated:
        return []
    return [
        ("dashboard.index", gettext("Sites")),
        ("dashboard.exports_page", gettext("Exports")),
        ("fleet.packs", gettext("Packs")),
        ("releases.index", gettext("Releases")),
        ("central_certificates.cpd", gettext("CPD records")),
        ("central_discussion.participation", gettext("Discussion")),
        ("central_competencies.profiles", gettext("Competencies")),
    ]


def _central_time(value: object, zone_name: str) -> str:
    """Return a stored UTC time (text, or seconds) in the ministry's zone, Khmer digits in km."""
    return i18n.khmer_digits(local_text(value, zone_name))


def _split(config: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    settings: dict[str, Any] = {}
    flask_config: dict[str, Any] = {}
    for key, value in (config or {}).items():
        name = key.replace("__", ".")
        (settings if name in BY_NAME else flask_config)[name if name in BY_NAME else key] = value
    return settings, flask_config


def create_app(config: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """Build the central server (migrating its database first).

    ``config`` holds Kru settings by name (``"data_dir"``, ``"central.database_url"``) and
    Flask keys (``"TESTING"``).

    Raises:
        KruError: the configuration or the database is unusable.
    """
    overrides, flask_config = _split(config)
    if settings is None:
        settings = load_settings(overrides=overrides)
    elif overrides:
        settings = settings.replace(**{k.replace(".", "__"): v for k, v in overrides.items()})
    home = DataHome(settings.data_dir).ensure()
    open_central(settings).close()

    # The shared layout's files come from the web base; the dashboard's own from its blueprint.
    app = Flask(__name__, static_folder=None)
    web_security.install(app, settings)
    sessions.init_sessions(
        app,
        settings,
        home,
        database,
        "central_secret_key",
        days=7,
        user_model=CentralUser,
        session_model=CentralSession,
    )
    app.config.update(flask_config)
    bodylimit.install(app)
    auth.init_login(app, "dashboard.login")
    csrf = CSRFProtect(app)
    i18n.init_app(app)
    layout.init_app(app, LAYOUT, central_links)
    app.jinja_env.filters["central_time"] = _central_time
    app.jinja_env.globals.update(
        bar_chart=charts.bar_chart,
        courses_rows=charts.courses_rows,
        course_title=charts.course_title,
    )

    from .openapi import bp as openapi_bp
    from .views_api import bp as api_bp
    from .views_api import session_bp
    from .views_assigned import bp as assigned_bp
    from .views_certificates import bp as certificates_bp
    from .views_competencies import bp as competencies_bp
    from .views_dashboard import bp as dashboard_bp
    from .views_discussion import bp as discussion_bp
    from .views_fleet import bp as fleet_bp
    from .views_health import bp as health_bp
    from .views_learners import bp as learners_bp
    from .views_metrics import bp as metrics_bp
    from .views_metrics import install as install_metrics
    from .views_releases import bp as releases_bp
    from .views_sync import bp as sync_bp

    csrf.exempt(sync_bp)  # signed with the device secret, not a browser session
    csrf.exempt(assigned_bp)
    for bp in (
        sync_bp,
        assigned_bp,
        session_bp,
        api_bp,
        dashboard_bp,
        health_bp,
        metrics_bp,
        openapi_bp,
        fleet_bp,
        releases_bp,
        certificates_bp,
        discussion_bp,
        competencies_bp,
        learners_bp,
    ):
        app.register_blueprint(bp)
    install_metrics(app)
    request_ids.install(app)
    _hooks(app)
    return app


def _hooks(app: Flask) -> None:
    @app.before_request
    def _connect() -> None:
        if request.path == "/healthz":  # connects itself, to answer 503 when it cannot
            return
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if not database.is_closed():
            database.close()

    web_errors.install(app)
