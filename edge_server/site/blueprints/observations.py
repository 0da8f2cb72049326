"""Practicum observations (issue 15): the mentor's list and form, the student teacher's
observations and reflections, the cohort's matrix by domain, and who mentors whom. Pages and
the JSON API share ``edge_server.tasks.observations``; docs/api.md ("Observations").

The form works offline: its script keeps a saved observation in the phone's storage and
sends it to ``POST /api/v1/observations`` until the site answers (static/js/observe.js).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, gettext
from flask_login import current_user

from ... import accounts
from ...base.errors import N_, KruError, NotFound, ValidationError
from ...tasks import observations
from ...tasks import rubric as rubrics
from ...web.auth import role_required

bp = Blueprint("observe", __name__)

OBSERVERS = observations.OBSERVERS


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"


def _user():
    return current_user._get_current_object()


def _common() -> dict[str, Any]:
    return {"pick": rubrics.pick, "lang": _lang(), "domains": observations.DOMAINS}


# --- API ----------------------------------------------------------------------------------


@bp.post("/api/v1/observations")
@role_required(*OBSERVERS)
def api_record():
    """Record an observation (JSON, see ``observations.record``): 201 new, 200 already held."""
    obs_id, new = observations.record(_user(), request.get_json(silent=True))
    return jsonify({"id": obs_id, "duplicate": not new}), (201 if new else 200)


@bp.get("/api/v1/learners/<int:learner_id>/observations")
@role_required()
def api_of_learner(learner_id: int):
    found = observations.of_learner(_user(), learner_id)
    return jsonify({"observations": [o.json() for o in found]})


@bp.post("/api/v1/observations/<obs_id>/reflection")
@role_required("learner")
def api_reflect(obs_id: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError(N_('Send JSON {"text": "..."}'), code="invalid_body")
    new = observations.reflect(_user(), obs_id, body.get("text"))
    return jsonify({"id": obs_id, "duplicate": not new}), (201 if new else 200)


# --- the mentor's pages --------------------------------------------------------------------


@bp.after_request
def _keep_on_phone(response: Response) -> Response:
    """Let the installed app keep the mentor's pages for a school without Wi-Fi (issue 23).

    ``private, no-cache`` instead of the site's ``no-store``: the app's service worker keeps
    a copy of the observation pages the mentor opened and shows it when the Pi cannot be
    reached (the form works offline: observe.js); signing out drops the copies.
    """
    if (
        request.method == "GET"
        and request.path.startswith("/observe")
        and response.mimetype == "text/html"
        and "Cache-Control" not in response.headers
    ):
        response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/observe")
@role_required(*OBSERVERS)
def index():
    return render_template(
        "observe/index.html", students=observations.observable(_user()), **_common()
    )


@bp.get("/observe/<int:learner_id>")
@role_required(*OBSERVERS)
def form(learner_id: int):
    learner = observations.student(_user(), learner_id)
    forms = observations.forms()
    if not forms:
        flash(gettext("No observation form is installed: install a pack that has one."), "error")
        return redirect(url_for("observe.index"))
    wanted = request.args.get("form") or forms[0].key
    chosen = next((f for f in forms if f.key == wanted), None)
    if chosen is None:
        abort(404)
    return render_template(
        "observe/form.html",
        learner=learner,
        forms=forms,
        form=chosen,
        past=observations.of_learner(_user(), learner.id),
        today=date.today().isoformat(),
        **_common(),
    )


@bp.post("/observe/<int:learner_id>")
@role_required(*OBSERVERS)
def form_post(learner_id: int):
    """The form without JavaScript (on the Wi-Fi only): the same record as the API."""
    back = url_for("observe.form", learner_id=learner_id, form=request.form.get("form"))
    key = request.form.get("form", "")
    try:
        criteria = observations.form_of(key).criteria
        body = {
            "id": str(uuid.uuid4()),
            "learner": learner_id,
            "form": key,
            "rubric": {c.id: request.form.get(f"c-{c.id}") for c in criteria},
            "notes": {c.id: request.form.get(f"n-{c.id}", "") for c in criteria},
            **{k: request.form.get(k, "") for k in ("school", "class", "date", "comment")},
        }
        observations.record(_user(), body)
    except KruError as exc:
        flash(exc.localized(gettext), "error")
        return redirect(back)
    flash(gettext("The observation was sent to the site."), "success")
    return redirect(url_for("observe.of_learner", learner_id=learner_id))


@bp.get("/observe/<int:learner_id>/observations")
@role_required(*OBSERVERS)
def of_learner(learner_id: int):
    learner = observations.student(_user(), learner_id)
    return render_template(
        "observe/list.html",
        learner=learner,
        found=observations.of_learner(_user(), learner.id),
        titles=_titles(),
        **_common(),
    )


def _titles() -> dict[str, str]:
    return {f.key: rubrics.pick(f.title, _lang()) for f in observations.forms()}


# --- the student teacher's page ------------------------------------------------------------


@bp.get("/my/observations")
@role_required("learner")
def mine():
    return render_template(
        "observe/list.html",
        learner=_user(),
        found=observations.of_learner(_user(), current_user.id),
        titles=_titles(),
        **_common(),
    )


@bp.post("/my/observations/<obs_id>/reflection")
@role_required("learner")
def reflect(obs_id: str):
    try:
        observations.reflect(_user(), obs_id, request.form.get("text", ""))
    except NotFound:
        abort(404)
    except KruError as exc:
        flash(exc.localized(gettext), "error")
        return redirect(url_for("observe.mine") + f"#obs-{obs_id}")
    flash(gettext("Your reflection was saved. Your mentor and instructor can read it."), "success")
    return redirect(url_for("observe.mine") + f"#obs-{obs_id}")


# --- the instructor's pages ----------------------------------------------------------------


@bp.get("/teach/cohorts/<int:cohort_id>/observations")
@role_required("instructor", "admin")
def matrix(cohort_id: int):
    if not accounts.can_see_cohort(_user(), cohort_id):
        abort(403)
    cohort = accounts.get_cohort(cohort_id)
    return render_template(
        "observe/matrix.html",
        cohort=cohort,
        rows=observations.cohort_matrix(_user(), cohort),
        **_common(),
    )


@bp.get("/teach/mentors")
@role_required("instructor", "admin")
def mentors():
    me = _user()
    learners = observations.observable(me)
    return render_template(
        "observe/mentors.html",
        mentors=[(m, accounts.mentor_students(m)) for m in accounts.list_users("mentor")],
        learners=learners,
        visible={u.id for u in learners},
    )


@bp.post("/teach/mentors")
@role_required("instructor", "admin")
def mentors_change():
    try:
        mentor = accounts.get_user(int(request.form.get("mentor", "0")))
        learner = accounts.get_user(int(request.form.get("learner", "0")))
        if request.form.get("action") == "remove":
            accounts.unassign_mentor(_user(), mentor, learner)
            flash(gettext("The mentor no longer sees this student teacher."), "success")
        else:
            accounts.assign_mentor(_user(), mentor, learner)
            flash(gettext("The mentor now sees this student teacher."), "success")
    except ValueError:
        flash(gettext("Choose a mentor and a student teacher."), "error")
    except KruError as exc:
        flash(exc.localized(gettext), "error")
    return redirect(url_for("observe.mentors"))
