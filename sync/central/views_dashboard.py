"""The ministry dashboard pages: sites, completion charts, a site's cohorts, CSV exports."""

from __future__ import annotations

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
from flask_login import current_user, login_required

from edge_server.base.csv_writer import csv_lines
from edge_server.base.errors import N_, KruError
from edge_server.web import sessions
from edge_server.web.api_errors import api_error
from edge_server.web.i18n import LANGUAGES
from edge_server.web.ratelimit import RateLimited
from edge_server.web.sessions import safe_next
from sync.protocol import COMPETENCY_DOMAINS

from . import dashboards, exports, fleet_health, lrs_forward, practicum, reports
from .models import Device, SiteCohort
from .views_api import sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

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
        fleet=fleet_health.fleet(current_app.config["KRU"]["central.silent_days"]),
        is_admin=current_user.role == "admin",
    )


@bp.post("/sites/<device_id>/replace-machine")
@login_required
def replace_machine(device_id: str):
    """The admin's decision on an identity clash: the old machine was replaced."""
    if current_user.role != "admin":
        abort(403)
    try:
        fleet_health.replace_machine(device_id)
    except KruError as exc:
        flash(exc.localized(gettext), "error")
    else:
        flash(
            gettext("The new Pi now syncs as this site; the old one is refused from now on."),
            "success",
        )
    return redirect(url_for("dashboard.index") + "#fleet")


@bp.get("/sites/<device_id>")
@login_required
def site(device_id: str):
    device = Device.get_or_none(Device.device_id == device_id)
    if device is None:
        abort(404)
    row = next(r for r in reports.site_rows() if r["id"] == device_id)
    total, cohort_lines = dashboards.site_cohorts(device)
    return render_template(
        "central/site.html",
        site=row,
        health=fleet_health.site_health(device, current_app.config["KRU"]["central.silent_days"]),
        courses=reports.completion_by_site().get(device.id, []),
        cohorts=reports.site_cohorts(device),
        figures=total,
        cohort_figures=cohort_lines,
        zone=current_app.config["KRU"]["central.time_zone"],
    )


@bp.get("/sites/<device_id>/cohorts/<cohort_uid>")
@login_required
def cohort(device_id: str, cohort_uid: str):
    """One cohort of a site: each learner's figures, linked to their learner page."""
    device = Device.get_or_none(Device.device_id == device_id)
    if device is None:
        abort(404)
    group = SiteCohort.get_or_none(
        (SiteCohort.device == device.id) & (SiteCohort.uid == cohort_uid)
    )
    if group is None:
        abort(404)
    return render_template(
        "central/cohort.html",
        data=dashboards.cohort(device, group, current_app.config["KRU"]["central.xapi_names"]),
        device=device,
        cohort=group,
        zone=current_app.config["KRU"]["central.time_zone"],
    )


_EXPORT_ERRORS = {
    "bad_date": N_("A date could not be read. Choose the days with the date fields."),
    "bad_date_range": N_("The date range ends before it starts, or is longer than ten years."),
    "unknown_site": N_("That site is not registered."),
    "no_date_range": N_("The learners export covers all time: leave the dates empty."),
}


@bp.get("/exports")
@login_required
def exports_page():
    """The export form: filters, then a file (CSV or Excel)."""
    sites = reports.site_rows()
    return render_template(
        "central/exports.html",
        sites=sites,
        provinces=sorted({s["province"] for s in sites if s["province"]}),
        courses=reports.course_choices(),
        export_args=request.args,
    )


@bp.get("/export/<any(sites, completion, learners):table>.<any(csv, xlsx):fmt>")
@login_required
def export(table: str, fmt: str):
    """Download an export as CSV or XLSX, narrowed by the filter in the query string."""
    zone_name = current_app.config["KRU"]["central.time_zone"]
    try:
        flt = exports.parse_filter(request.args)
        names = current_app.config["KRU"]["central.xapi_names"]
        rows = exports.rows(table, flt, zone_name, names=names)
    except exports.ExportError as exc:
        if request.accept_mimetypes.best == "application/json":
            return api_error(exc.code, str(exc), 400)
        flash(gettext(_EXPORT_ERRORS[exc.code]), "error")
        back = url_for("dashboard.exports_page", **request.args.to_dict())  # type: ignore[arg-type]
        return redirect(back, code=303)
    name = exports.file_name(table, flt, fmt)
    disposition = {"Content-Disposition": exports.disposition(name)}
    if fmt == "xlsx":
        return Response(exports.xlsx_bytes(rows, table), mimetype=XLSX, headers=disposition)
    return Response(stream_with_context(csv_lines(rows)), mimetype="text/csv", headers=disposition)
