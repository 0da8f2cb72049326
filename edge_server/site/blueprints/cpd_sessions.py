"""Pages of face-to-face sessions: schedule, take attendance by taps or by code, check in.

Thin shells over ``edge_server.cpd.attendance``.
"""

from __future__ import annotations

import io
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, gettext
from flask_login import current_user

from content_packs import catalog

from ... import accounts
from ...base.csv_writer import csv_text
from ...base.errors import KruError
from ...cpd import attendance
from ...cpd.models import F2FSession
from ...learning import assignments, dashboard
from ...web.auth import role_required

bp = Blueprint("cpd", __name__)


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"


def _user():
    return current_user._get_current_object()


def _tz():
    return attendance.zone(current_app.config["KRU"]["time_zone"])


def _wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _cohort(cohort_id: int):
    if not accounts.can_see_cohort(_user(), cohort_id):
        abort(403)
    return accounts.get_cohort(cohort_id)


def _session(session_id: int) -> F2FSession:
    found = F2FSession.get_or_none(F2FSession.id == session_id)
    if found is None or not accounts.can_see_cohort(_user(), found.cohort_id):
        abort(404 if found is None else 403)
    return found


@bp.app_template_global()
def cohort_attendance(cohort: Any) -> dict[int, attendance.Share]:
    return attendance.cohort_shares(cohort)


def _item_choices(keys: list[str]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    titles = dict(assignments.all_courses(_lang()))
    found = catalog.catalogs(keys, _lang())
    return [
        (key, titles.get(key, key), [(it.key, it.title) for it in found[key].items])
        for key in keys
        if key in found
    ]


@bp.route("/teach/cohorts/<int:cohort_id>/sessions", methods=["GET", "POST"])
@role_required("instructor", "admin")
def sessions(cohort_id: int):
    group = _cohort(cohort_id)
    if request.method == "POST":
        form = request.form
        chosen = form.getlist("items")
        course = form.get("course", "")
        try:
            minutes = int(form.get("minutes") or 120)
            attendance.schedule(
                group,
                title=form.get("title", ""),
                local_start=f"{form.get('date', '')}T{form.get('time', '')}",
                tz=_tz(),
                place=form.get("place", ""),
                minutes=minutes,
                course=course,
                items=chosen,
                by=_user(),
            )
        except ValueError:
            flash(gettext("A session lasts from 5 minutes to 24 hours."), "error")
        except KruError as exc:
            flash(exc.localized(gettext), "error")
        else:
            flash(gettext("The session is scheduled."), "success")
        return redirect(url_for("cpd.sessions", cohort_id=group.id)), 303
    keys = dashboard.cohort_course_keys(group)
    return render_template(
        "cpd/sessions.html",
        cohort=group,
        sessions=attendance.cohort_sessions(group, _tz()),
        choices=_item_choices(keys),
        zone=current_app.config["KRU"]["time_zone"],
    )


@bp.get("/teach/sessions/<int:session_id>")
@role_required("instructor", "admin")
def session_page(session_id: int):
    found = _session(session_id)
    view = attendance.cohort_sessions(found.cohort, _tz())
    current = next(v for v in view if v.id == found.id)
    return render_template(
        "cpd/session.html",
        s=current,
        roster=attendance.roster(found),
        statuses=attendance.STATUSES,
        checkin_url=url_for("cpd.checkin", code=found.code, _external=True),
    )


@bp.post("/teach/sessions/<int:session_id>/marks")
@role_required("instructor", "admin")
def mark(session_id: int):
    found = _session(session_id)
    try:
        learner = attendance.session_learner(found, int(request.form.get("user_id", "0")))
        changed = attendance.mark(found, learner, request.form.get("status", ""), by=_user())
    except (KruError, ValueError) as exc:
        message = exc.localized(gettext) if isinstance(exc, KruError) else str(exc)
        if _wants_json():
            return jsonify({"error": {"code": "invalid_mark", "message": message}}), 400
        flash(message, "error")
        return redirect(url_for("cpd.session_page", session_id=found.id)), 303
    if _wants_json():
        return jsonify(
            {"user_id": learner.id, "status": request.form["status"], "changed": changed}
        )
    return redirect(url_for("cpd.session_page", session_id=found.id, _anchor=f"l{learner.id}")), 303


@bp.post("/teach/sessions/<int:session_id>/checkin")
@role_required("instructor", "admin")
def toggle_checkin(session_id: int):
    found = _session(session_id)
    attendance.set_checkin(found, request.form.get("open") == "1")
    return redirect(url_for("cpd.session_page", session_id=found.id)), 303


@bp.get("/teach/sessions/<int:session_id>/qr.svg")
@role_required("instructor", "admin")
def qr(session_id: int):
    found = _session(session_id)
    buf = io.BytesIO()
    url = url_for("cpd.checkin", code=found.code, _external=True)
    import segno  # here: QR codes are drawn for an instructor now and then (issue 22)

    segno.make(url, error="m").save(buf, kind="svg", scale=6, border=2, xmldecl=False)
    response = Response(buf.getvalue(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/teach/cohorts/<int:cohort_id>/attendance.csv")
@role_required("instructor", "admin")
def attendance_csv(cohort_id: int):
    group = _cohort(cohort_id)
    response = Response(csv_text(attendance.attendance_rows(group, _tz())), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="cohort-{group.id}-attendance.csv"'
    )
    return response


@bp.route("/checkin", methods=["GET", "POST"])
@role_required()
def checkin():
    code = request.values.get("code", "")
    if request.method == "POST":
        try:
            found = attendance.check_in(_user(), code)
        except KruError as exc:
            flash(exc.localized(gettext), "error")
            return render_template("cpd/checkin.html", code=code), 400
        return render_template("cpd/checkin.html", done=found, code="")
    return render_template("cpd/checkin.html", code=attendance.normalize_code(code))
