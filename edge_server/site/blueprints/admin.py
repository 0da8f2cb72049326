"""Site admin pages: status, accounts, cohorts, class-list import."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext

from content_packs import usb

from ... import accounts
from ...accounts import roster
from ...accounts.models import ROLES, Cohort
from ...base.errors import N_, KruError, ValidationError
from ...network import wifi
from ...tasks import storage as task_storage
from ...web import sessions
from ...web.auth import role_required
from ...web.i18n import khmer_digits
from .. import usb_backup
from ..health import health, storage
from . import site_care, sync_panel

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _panels() -> list[tuple[str, Any]]:
    """Return the site page's status panels: (template, what it shows as ``panel``)."""
    # Imported here: the modem panel brings pyserial, the HTTPS panel cryptography and
    # requests, which only this page needs (building the app stays light).
    from sync.edge import https_panel
    from sync.modem import panel as modem_panel

    config = current_app.config
    return site_care.panels() + [
        ("packs/_usb_panel.html", usb.panel(config)),
        ("sync/_panel.html", sync_panel.panel(config)),
        ("modem/_panel.html", modem_panel.panel(config)),
        ("deploy/wifi_panel.html", wifi.wifi_panel(config)),
        ("https/_panel.html", https_panel.panel(config)),
        ("tasks/_admin_panel.html", task_storage.panel(config)),
    ]


@bp.get("/")
@role_required("admin")
def index():
    home = current_app.config["KRU_HOME"]
    return render_template(
        "admin/index.html",
        health=health(home, current_app.extensions.get("kru_integrity")),
        storage=storage(home),
        panels=_panels(),
        backup_reminder=usb_backup.reminder(current_app.config["KRU"], home),
    )


# --- accounts ----------------------------------------------------------------------------


@bp.get("/users")
@role_required("admin")
def users():
    role = request.args.get("role") or None
    role = role if role in ROLES else None
    search = request.args.get("q", "")[:100]
    listed = accounts.list_users(role, search)
    return render_template("admin/users.html", users=listed, role=role, search=search)


@bp.get("/users.csv")
@role_required("admin")
def users_csv():
    return Response(
        stream_with_context(roster.export_roster()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="kru-accounts.csv"'},
    )


@bp.route("/users/new", methods=["GET", "POST"])
@role_required("admin")
def user_new():
    form = request.form
    if request.method == "POST":
        try:
            _require_display_name(form)
            user = accounts.create_user(
                form.get("username", ""),
                form.get("password", ""),
                display_name=form.get("display_name") or None,
                role=form.get("role", "learner"),
                language=form.get("language") or None,
            )
            cohort_id = form.get("cohort_id", type=int)
            if cohort_id and user.role != "admin":
                accounts.add_to_cohort(accounts.get_cohort(cohort_id), user)
        except KruError as exc:
            flash(exc.localized(gettext), "error")
            return render_template(
                "admin/user_new.html", form=form, cohorts=_all_cohorts()
            ), exc.status
        flash(gettext("Account %(name)s created.", name=user.username), "success")
        return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_new.html", form={}, cohorts=_all_cohorts())


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def user_edit(user_id: int):
    user = accounts.get_user(user_id)
    if request.method == "POST":
        form = request.form
        action = form.get("action", "save")
        try:
            if action == "password":
                accounts.set_password(user, form.get("password", ""))
                flash(gettext("Password changed for %(name)s.", name=user.username), "success")
            elif action == "make_password":
                # Shown once, in this answer only (never stored or logged in clear): the
                # admin reads it out or writes it down for the learner (issue 14 item 15).
                made = accounts.generate_password()
                accounts.set_password(user, made)
                response = make_response(_render_user(user, made_password=made))
                response.headers["Cache-Control"] = "no-store"
                return response
            elif action == "unlock":
                sessions.login_limiter().unlock(user.username)
                flash(gettext("%(name)s can sign in again.", name=user.username), "success")
            elif action in ("deactivate", "activate"):
                accounts.update_user(user, active=action == "activate")
                flash(gettext("Account updated."), "success")
            else:
                _require_display_name(form)
                accounts.update_user(
                    user,
                    display_name=form.get("display_name", ""),
                    role=form.get("role", user.role),
                    language=form.get("language", ""),
                )
                flash(gettext("Account updated."), "success")
        except KruError as exc:
            flash(exc.localized(gettext), "error")
            return _render_user(user), exc.status
        return redirect(url_for("admin.user_edit", user_id=user.id))
    return _render_user(user)


def _render_user(user, made_password: str | None = None) -> str:
    member_of = [c for c in accounts.visible_cohorts(user)] if user.role != "admin" else []
    return render_template(
        "admin/user_edit.html",
        user=user,
        cohorts=member_of,
        lock_minutes=sessions.account_lock_minutes(user.username),
        made_password=made_password,
    )


def _require_display_name(form) -> None:
    """Refuse an account without a name: instructors find learners by name, not username.

    Raises:
        ValidationError: the display name is empty.
    """
    if not (form.get("display_name") or "").strip():
        raise ValidationError(
            N_("Enter the person's name as their instructor knows it."), code="name_required"
        )


def _all_cohorts() -> list[Cohort]:
    return list(Cohort.select().order_by(Cohort.name))


# --- class list import -------------------------------------------------------------------


@bp.route("/users/import", methods=["GET", "POST"])
@role_required("admin")
def user_import():
    if request.method == "GET":
        return render_template("admin/import.html", result=None, problems=[])
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(gettext("Choose a CSV file first."), "error")
        return render_template("admin/import.html", result=None, problems=[]), 400
    try:
        result = roster.import_roster(
            upload.read(),
            skip_bad_rows=bool(request.form.get("skip_bad_rows")),
            default_cohort=request.form.get("cohort") or None,
        )
    except roster.RosterError as exc:
        flash(exc.localized(gettext), "error")
        return render_template(
            "admin/import.html", result=None, problems=_localized(exc.problems)
        ), 400
    except KruError as exc:
        flash(exc.localized(gettext), "error")
        return render_template("admin/import.html", result=None, problems=[]), exc.status
    flash(
        gettext("%(count)s account(s) imported.", count=khmer_digits(len(result.created))),
        "success",
    )
    return render_template("admin/import.html", result=result, problems=_localized(result.problems))


def _localized(problems: list[roster.RowProblem]) -> list[tuple[int, str]]:
    """Return (line, message in the user's language) for each bad row."""
    return [(p.line, p.localized(gettext)) for p in problems]


# --- cohorts -----------------------------------------------------------------------------


@bp.route("/cohorts", methods=["GET", "POST"])
@role_required("admin")
def cohorts():
    if request.method == "POST":
        try:
            cohort = accounts.create_cohort(
                request.form.get("name", ""), request.form.get("description", "")
            )
        except KruError as exc:
            flash(exc.localized(gettext), "error")
            return render_template("admin/cohorts.html", cohorts=_cohort_rows()), exc.status
        flash(gettext("Cohort %(name)s created.", name=cohort.name), "success")
        return redirect(url_for("admin.cohort", cohort_id=cohort.id))
    return render_template("admin/cohorts.html", cohorts=_cohort_rows())


def _cohort_rows() -> list[dict[str, Any]]:
    return [
        {
            "cohort": c,
            "learners": len(accounts.cohort_learners(c)),
            "instructors": accounts.cohort_instructors(c),
        }
        for c in _all_cohorts()
    ]


@bp.route("/cohorts/<int:cohort_id>", methods=["GET", "POST"])
@role_required("admin")
def cohort(cohort_id: int):
    target = accounts.get_cohort(cohort_id)
    status = 200
    if request.method == "POST":
        try:
            user = accounts.get_user(username=request.form.get("username", ""))
            if request.form.get("action") == "remove":
                accounts.remove_from_cohort(target, user)
                flash(gettext("%(name)s removed.", name=user.username), "success")
            else:
                accounts.add_to_cohort(target, user)
                flash(gettext("%(name)s added.", name=user.username), "success")
            return redirect(url_for("admin.cohort", cohort_id=target.id))
        except KruError as exc:
            flash(exc.localized(gettext), "error")
            status = exc.status
    return render_template(
        "admin/cohort.html",
        cohort=target,
        learners=accounts.cohort_learners(target),
        instructors=accounts.cohort_instructors(target),
    ), status
