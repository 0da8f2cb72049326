"""The app ``kru serve`` runs when the database is damaged: a notice everywhere, and a restore.

Every page answers 503 with a Khmer and English notice; the API answers 503 with the code
``recovery_mode``; ``/healthz`` answers 503 naming the damage. At ``/recovery`` an admin
signs in with the recovery code (shown on the console and by ``kru doctor``), chooses a
snapshot (the newest good one preselected, with the events it would lose) and restores it;
salvaged events are inserted again, and ``on_restored`` switches the server to the site.
It never opens the damaged database through the site's handle.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, redirect, render_template, request, session, url_for
from flask.wrappers import Response
from flask_wtf.csrf import CSRFProtect

from ..base import snapshots
from ..base.datahome import DataHome
from ..base.errors import KruError
from ..base.integrity import Damaged
from ..base.settings import Settings
from ..web import web_security
from ..web.api_errors import api_error
from ..web.i18n import load_catalog
from . import recovery
from .health import health

log = logging.getLogger(__name__)

MAX_WRONG_CODES = 10  # then the code is refused until the server restarts (shown on console)


class SwitchableApp:
    """A WSGI app that forwards to one app and can be switched to another while serving."""

    def __init__(self, app: Flask) -> None:
        self.app: Any = app
        self.config = app.config  # waitress reads trusted proxies from here

    def switch(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        return self.app(environ, start_response)


def khmer(msgid: str) -> str:
    """Return the Khmer translation of ``msgid`` (the notice shows both languages)."""
    return load_catalog("km").gettext(msgid)


def create_recovery_app(
    settings: Settings,
    home: DataHome,
    damaged: Damaged,
    code: str,
    on_restored: Callable[[snapshots.Snapshot, Path | None], int],
) -> Flask:
    """Build the recovery app.

    ``on_restored(snapshot, salvaged)`` runs after a restore with the salvaged database (or
    None): the caller re-ingests its events and switches the server; it returns how many.
    """
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(32), KRU_HOME=home)
    web_security.install(app, settings)
    CSRFProtect(app)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    app.jinja_env.globals["km"] = khmer
    state: dict[str, Any] = {"wrong": 0, "salvaged": None, "salvage_error": None, "done": None}
    lock = threading.RLock()

    def salvaged() -> Any:
        with lock:
            if state["salvaged"] is None and state["salvage_error"] is None:
                try:
                    state["salvaged"] = recovery.salvage(home, damaged.path)
                except recovery.SalvageFailed as exc:
                    state["salvage_error"] = exc.message
            return state["salvaged"]

    def signed_in() -> bool:
        return bool(session.get("recovery"))

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        from flask import jsonify

        return jsonify({**health(home, damaged), "recovery_mode": True}), 503

    @app.route("/recovery", methods=["GET", "POST"])
    def index() -> Any:
        if state["done"] is not None:
            return redirect("/")
        if request.method == "POST":
            if state["wrong"] >= MAX_WRONG_CODES:
                return render_template("recovery/sign_in.html", problem="locked"), 429
            if not recovery.code_matches(request.form.get("code", ""), code):
                state["wrong"] += 1
                return render_template("recovery/sign_in.html", problem="wrong"), 403
            session["recovery"] = True
            return redirect(url_for("index"))
        if not signed_in():
            return render_template("recovery/sign_in.html", problem=None), 503
        found = recovery.candidates(home, recovery.damaged_max_seq(damaged.path), salvaged())
        chosen = recovery.preselected(found)
        return render_template(
            "recovery/choose.html",
            damaged=damaged,
            candidates=found,
            chosen=chosen.snapshot.name if chosen else None,
            salvage_error=state["salvage_error"],
        ), 503

    @app.post("/recovery/restore")
    def restore() -> Any:
        if not signed_in():
            return redirect(url_for("index"))
        name = request.form.get("snapshot", "")
        with lock:
            if state["done"] is not None:
                return redirect("/")
            try:
                snap = snapshots.find(home, name)
                rescued = salvaged()  # read the damaged file before it is replaced
                snapshots.restore(home, snap, server_may_run=True)
            except KruError as exc:
                return render_template("recovery/problem.html", problem=exc.message), exc.status
            state["done"] = on_restored(snap, rescued)
        return render_template("recovery/done.html", snapshot=snap, salvaged=state["done"])

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def notice(path: str) -> Any:
        if request.path.startswith("/api/"):
            return api_error(
                "recovery_mode",
                "The site is in recovery mode: its database is damaged. An admin restores "
                "it at /recovery.",
                503,
            )
        return render_template("recovery/notice.html"), 503

    return app
