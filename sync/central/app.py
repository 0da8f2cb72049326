"""The central server's app factory: everything is built here, nothing at import."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request
from flask_babel import gettext
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from edge_server import i18n, passwords
from edge_server.api import api_error, error_response
from edge_server.datahome import DataHome
from edge_server.errors import KruError
from edge_server.ratelimit import LoginLimiter
from edge_server.settings import BY_NAME, Settings, load_settings

from . import charts
from .db import connect_database, database, upgrade
from .models import CentralUser

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent.parent.parent / "edge_server" / "static"


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
    real = connect_database(settings)
    upgrade(real)
    real.close()

    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config.update(
        KRU=settings,
        KRU_HOME=home,
        SECRET_KEY=home.read_or_create_secret("central_secret_key"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=7),
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_HEADERS=["X-CSRFToken", "X-CSRF-Token"],
        JSON_SORT_KEYS=False,
    )
    app.config.update(flask_config)
    app.extensions["kru_login_limiter"] = LoginLimiter(
        settings["auth.login_limit"],
        settings["auth.login_limit_per_address"],
        enabled=settings["auth.rate_limit"],
    )
    passwords.configure(
        settings["auth.hash_memory_kib"],
        settings["auth.hash_time_cost"],
        settings["auth.hash_concurrency"],
    )
    login = LoginManager(app)
    login.login_view = "dashboard.login"

    @login.user_loader
    def _load(user_id: str) -> CentralUser | None:
        try:
            user = CentralUser.get_or_none(CentralUser.id == int(user_id))
        except ValueError:
            return None
        return user if user is not None and user.active else None

    @login.unauthorized_handler
    def _unauthorized():  # noqa: ANN202
        from flask import redirect, url_for

        if request.path.startswith("/api/"):
            return api_error("unauthorized", gettext("Please sign in first."), 401)
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))

    csrf = CSRFProtect(app)
    i18n.init_app(app)
    app.jinja_env.globals.update(
        bar_chart=charts.bar_chart,
        courses_rows=charts.courses_rows,
        course_title=charts.course_title,
    )

    from .views_api import bp as api_bp
    from .views_dashboard import bp as dashboard_bp
    from .views_sync import bp as sync_bp

    csrf.exempt(sync_bp)  # signed with the device secret, not a browser session
    for bp in (sync_bp, api_bp, dashboard_bp):
        app.register_blueprint(bp)
    _hooks(app)
    return app


def _hooks(app: Flask) -> None:
    @app.before_request
    def _connect() -> None:
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if not database.is_closed():
            database.close()

    def wants_json() -> bool:
        return request.path.startswith("/api/")

    def render(status: int, code: str, message: str, **extra: Any):  # noqa: ANN202
        if wants_json():
            return api_error(code, message, status, **extra)
        return render_template("central/error.html", status=status, message=message), status

    @app.errorhandler(KruError)
    def _kru(exc: KruError):  # noqa: ANN202
        message = exc.localized(gettext)
        if wants_json():
            response, status = error_response(exc, message)
        else:
            response, status = render(exc.status, exc.code, message)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None and hasattr(response, "headers"):
            response.headers["Retry-After"] = str(retry_after)
        return response, status

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):  # noqa: ANN202
        return render(
            400, "csrf_failed", gettext("The form expired; reload the page and try again.")
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # noqa: ANN202
        status = exc.code or 500
        codes = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }
        return render(status, codes.get(status, "http_error"), exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # noqa: ANN202
        log.exception("unexpected error on %s %s", request.method, request.path)
        return render(
            500, "internal_error", gettext("Something went wrong on the server; it was logged.")
        )
