"""The ministry dashboard pages: sites, completion charts, a site's cohorts, CSV exports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import gettext
from flask_login import login_required

from edge_server.base.csv_writer import csv_lines
from edge_server.web import sessions
from edge_server.web.i18n import LANGUAGES
from edge_server.web.ratelimit import RateLimited
from edge_server.web.sessions import safe_next
from sync.protocol import COMPETENCY_DOMAINS

from . import lrs_forward, practicum, reports
from .models import Device
from .views_api import sign_in

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/central-static",
)


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            user = sign_in(username, request.form.get("password", ""))
        except RateLimited as exc:
            return sessions.rate_limited_page(exc, username, next_url)
        if user is not None:
            return redirect(next_url or url_for("dashboard.index"))
        flash(gettext("Wrong username or password."), "error")
        return render_template("login.html", username=username, next=next_url), 401
    return render_template("login.html", username="", next=next_url)


@bp.post("/logout")
def logout():
    sessions.sign_out()
    return redirect(url_for("dashboard.login"))


@bp.post("/language")
def language():
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")) or url_for("dashboard.index"))


@bp.get("/")
@login_required
def index():
    sites = reports.site_rows()
    by_site = reports.completion_by_site()
    names = {d.id: d.name for d in Device.select(Device.id, Device.name)}
    return render_template(
        "central/index.html",
        sites=sites,
        by_site=[(names.get(pk, "?"), courses) for pk, courses in sorted(by_site.items())],
        by_province=sorted(reports.completion_by_province().items()),
        lrs_url=current_app.config["KRU"]["central.lrs_url"],
        lrs=lrs_forward.status(),
        practicum=practicum.by_site(),
        domains=COMPETENCY_DOMAINS,
    )


@bp.get("/sites/<device_id>")
@login_required
def site(device_id: str):
    device = Device.get_or_none(Device.device_id == device_id)
    if device is None:
        abort(404)
    row = next(r for r in reports.site_rows() if r["id"] == device_id)
    return render_template(
        "central/site.html",
        site=row,
        courses=reports.completion_by_site().get(device.id, []),
        cohorts=reports.site_cohorts(device),
    )


def _csv(rows: Iterator[list[Any]], name: str) -> Response:
    return Response(
        stream_with_context(csv_lines(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/export/sites.csv")
@login_required
def export_sites():
    return _csv(reports.sites_csv_rows(), "kru-sites.csv")


@bp.get("/export/completion.csv")
@login_required
def export_completion():
    return _csv(reports.completion_csv_rows(), "kru-completion.csv")
