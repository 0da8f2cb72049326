"""Instructor pages: my cohorts, a cohort's dashboard, a learner's detail, CSV exports,
course assignments. Instructors see only the cohorts they teach; admins see all."""

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
    url_for,
)
from flask_babel import get_locale, gettext
from flask_login import current_user

from ... import accounts
from ...accounts.models import Cohort, CohortMember
from ...base.csv_writer import attachment, csv_lines
from ...base.errors import KruError
from ...learning import assignments, dashboard
from ...web import sessions
from ...web.auth import role_required

bp = Blueprint("teach", __name__, url_prefix="/teach")


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"


def _user():
    return current_user._get_current_object()


def _cohort(cohort_id: int) -> Cohort:
    """Return a cohort the current user teaches.

    Another instructor's cohort answers 404 like one that does not exist, so an instructor
    cannot learn which cohort ids exist (issue 12).
    """
    if not accounts.can_see_cohort(_user(), cohort_id):
        abort(404)
    return accounts.get_cohort(cohort_id)


def _course_keys(cohort: Cohort) -> list[str]:
    return request.args.getlist("course") or dashboard.cohort_course_keys(cohort)


@bp.get("/")
@role_required("instructor", "admin")
def cohorts():
    visible = accounts.visible_cohorts(_user())
    assign = request.args.get("assign") or None  # "Assign to a cohort" after an upload
    if assign and len(visible) == 1:
        return redirect(
            url_for("teach.cohort", cohort_id=visible[0].id, assign=assign, _anchor="assign")
        )
    shown = [
        (c, len(accounts.cohort_learners(c)), assignments.assigned(c, _lang())) for c in visible
    ]
    return render_template("teach/cohorts.html", cohorts=shown, assign=assign)


@bp.get("/cohorts/<int:cohort_id>")
@role_required("instructor", "admin")
def cohort(cohort_id: int):
    group = _cohort(cohort_id)
    choices = dashboard.course_choices(group, _lang())
    chosen = _chosen(choices)
    matrix = dashboard.cohort_matrix(group, _lang(), [chosen] if chosen else [])
    return render_template(
        "teach/cohort.html",
        cohort=group,
        matrix=matrix,
        chosen=chosen,
        course_choices=choices,
        stats=dashboard.quiz_stats(group, matrix, _lang()),
        assigned=assignments.assigned(group, _lang()),
        all_courses=assignments.all_courses(_lang()),
        assign=request.args.get("assign"),
    )


def _chosen(choices: list[dashboard.CourseChoice]) -> str | None:
    """Return the course asked for, else the first assigned one, else the first open one."""
    keys = [c.key for c in choices]
    asked = request.args.get("course")
    if asked in keys:
        return asked
    first = next((c.key for c in choices if c.assigned), keys[0] if keys else None)
    return first


def _csv_response(rows, *name: str) -> Response:
    response = Response(csv_lines(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = attachment(*name)
    return response


def _status_words() -> dict[str, str]:
    """The status words the dashboard's legend shows, in the page's language."""
    return {
        "not_started": gettext("Not started"),
        "in_progress": gettext("In progress"),
        "completed": gettext("Completed"),
        "passed": gettext("Passed"),
        "failed": gettext("Failed"),
    }


@bp.get("/cohorts/<int:cohort_id>/progress.csv")
@role_required("instructor", "admin")
def progress_csv(cohort_id: int):
    group = _cohort(cohort_id)
    matrix = dashboard.cohort_matrix(group, _lang(), _course_keys(group))
    titles = [t for _k, t in matrix.courses]
    course = titles[0] if len(titles) == 1 else ""
    return _csv_response(matrix.csv_rows(_status_words()), group.name, course, gettext("progress"))


@bp.get("/cohorts/<int:cohort_id>/events.csv")
@role_required("instructor", "admin")
def events_csv(cohort_id: int):
    group = _cohort(cohort_id)
    rows = dashboard.cohort_event_rows(group, current_app.config["KRU"]["time_zone"])
    return _csv_response(rows, group.name, gettext("events"))


def _member(group: Cohort, user_id: int):  # a User
    """Return learner ``user_id`` of ``group`` (404 when not a member)."""
    member = (
        CohortMember.select()
        .where((CohortMember.cohort == group) & (CohortMember.user == user_id))
        .first()
    )
    if member is None:
        abort(404)
    return accounts.get_user(user_id)


@bp.get("/cohorts/<int:cohort_id>/learners/<int:user_id>")
@role_required("instructor", "admin")
def learner(cohort_id: int, user_id: int):
    group = _cohort(cohort_id)
    person = _member(group, user_id)
    keys = dashboard.cohort_course_keys(group)
    titles = dict(assignments.all_courses(_lang()))
    detail = dashboard.learner_detail(person, keys, _lang())
    return render_template(
        "teach/learner.html",
        cohort=group,
        detail=detail,
        titles=titles,
        lock_minutes=sessions.account_lock_minutes(person.username),
    )


@bp.post("/cohorts/<int:cohort_id>/learners/<int:user_id>/unlock")
@role_required("instructor", "admin")
def unlock(cohort_id: int, user_id: int):
    """Lift the sign-in lock a classmate's guessing put on a learner of this cohort."""
    group = _cohort(cohort_id)
    person = _member(group, user_id)
    sessions.login_limiter().unlock(person.username)
    flash(gettext("%(name)s can sign in again.", name=person.display_name), "success")
    return redirect(url_for("teach.learner", cohort_id=group.id, user_id=person.id)), 303


@bp.post("/cohorts/<int:cohort_id>/assignments")
@role_required("instructor", "admin")
def assign(cohort_id: int):
    group = _cohort(cohort_id)
    course = request.form.get("course", "")
    try:
        if request.form.get("remove"):
            assignments.unassign(group, course)
            flash(gettext("The course was removed from the cohort; progress is kept."), "success")
        else:
            assignments.assign(group, course, request.form.get("due_date"), _user())
            flash(gettext("The course is assigned."), "success")
    except KruError as exc:
        flash(exc.localized(gettext), "error")
        return redirect(url_for("teach.cohort", cohort_id=group.id)), 303
    return redirect(url_for("teach.cohort", cohort_id=group.id, course=course or None)), 303
