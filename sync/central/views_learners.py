"""Pages and JSON of the drill-down (issue 21): a province, a learner, a learner's transcript,
and the admin's link and unlink of two learner records."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required

from edge_server.base.errors import KruError
from edge_server.web.api_errors import api_error
from edge_server.web.i18n import khmer_digits

from . import dashboards, learners
from .views_api import api_role

bp = Blueprint("central_learners", __name__, template_folder="templates")


def _names() -> bool:
    return bool(current_app.config["KRU"]["central.xapi_names"])


def _zone() -> str:
    return current_app.config["KRU"]["central.time_zone"]


@bp.app_template_filter("pct")
def pct(share: float | None) -> str:
    """Return a share 0..1 as a whole percent (Khmer digits in Khmer), '–' for none."""
    return "–" if share is None else khmer_digits(f"{round(share * 100)}%")


@bp.app_template_filter("hours")
def hours(seconds: int | None) -> str:
    """Return seconds of study as hours and minutes, ``h:mm`` (Khmer digits in Khmer)."""
    if not seconds:
        return "–" if seconds is None else khmer_digits("0:00")
    minutes = round(seconds / 60)
    return khmer_digits(f"{minutes // 60}:{minutes % 60:02d}")


@bp.get("/provinces/<path:name>")
@login_required
def province(name: str):
    """All sites of a province, each with its figures and the time its data is from."""
    try:
        data = dashboards.province(name)
    except dashboards.UnknownProvince:
        abort(404)
    return render_template("central/province.html", province=data, zone=_zone())


@bp.get("/api/v1/provinces/<path:name>")
@api_role("admin", "viewer")
def province_json(name: str):
    try:
        return jsonify(dashboards.province(name).json())
    except dashboards.UnknownProvince as exc:
        return api_error(exc.code, str(exc.message), 404)


def _record(device_id: str, uid: str):
    try:
        return learners.find(device_id, uid)
    except learners.UnknownRecord:
        abort(404)


@bp.get("/sites/<device_id>/learners/<uid>")
@login_required
def learner(device_id: str, uid: str):
    """One learner's record on one site, the records linked to it, and (admins) link forms."""
    data = dashboards.transcript(_record(device_id, uid), _names())
    return render_template(
        "central/learner.html",
        transcript=data,
        record=data.records[0],
        figures=data.figures[data.records[0].key],
        is_admin=current_user.role == "admin",
        zone=_zone(),
    )


@bp.get("/sites/<device_id>/learners/<uid>/transcript")
@login_required
def transcript(device_id: str, uid: str):
    """The learner's courses, scores, time, attendance, work, competencies and certificates
    from every site their records are linked across."""
    data = dashboards.transcript(_record(device_id, uid), _names())
    return render_template("central/transcript.html", transcript=data, zone=_zone())


@bp.get("/api/v1/sites/<device_id>/learners/<uid>/transcript")
@api_role("admin", "viewer")
def transcript_json(device_id: str, uid: str):
    try:
        person = learners.find(device_id, uid)
    except learners.UnknownRecord as exc:
        return api_error(exc.code, str(exc.message), 404)
    return jsonify(dashboards.transcript(person, _names()).json())


@bp.post("/sites/<device_id>/learners/<uid>/links")
@login_required
def links(device_id: str, uid: str):
    """Link this record to another site's record of the same learner, or unlink them."""
    if current_user.role != "admin":
        abort(403)
    person = _record(device_id, uid)
    action = request.form.get("action", "")
    back = redirect(url_for(".learner", device_id=device_id, uid=uid), code=303)
    try:
        other = learners.find(
            request.form.get("device", "").strip(), request.form.get("uid", "").strip()
        )
        if action == "link":
            learners.link(person, other, current_user.username)
            flash(gettext("The two records are now one learner's."), "success")
        elif action == "unlink":
            learners.unlink(person, other, current_user.username)
            flash(gettext("The two records are kept apart."), "success")
        else:
            abort(400)
    except KruError as exc:
        flash(exc.localized(gettext), "error")
    return back
