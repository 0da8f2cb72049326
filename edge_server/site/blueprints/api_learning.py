"""``/api/v1`` for learning: events in, my progress, my courses, cohort progress out."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request
from flask_babel import get_locale, gettext
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError as CsrfInvalid

from ... import accounts
from ...learning import courses, dashboard, events, scorm
from ...web.api_errors import api_error
from ...web.auth import role_required

bp = Blueprint("api_learning", __name__, url_prefix="/api/v1")

# navigator.sendBeacon cannot set headers, so /api/v1/events and /api/v1/scorm take the CSRF
# token from the JSON body as well; the views are exempt from CSRFProtect and check it.
_EVENTS_VIEW = f"{__name__}.post_events"
_SCORM_VIEW = f"{__name__}.post_scorm"


@bp.record_once
def _exempt(state) -> None:
    state.app.extensions["csrf"].exempt(_EVENTS_VIEW)
    state.app.extensions["csrf"].exempt(_SCORM_VIEW)


def _checked_body():
    """Return the JSON body without its CSRF token, or the JSON error if the token is bad."""
    body = request.get_json(force=True, silent=True)
    token = request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token")
    if isinstance(body, dict) and "csrf_token" in body:
        token = token or body.get("csrf_token")
        body = {k: v for k, v in body.items() if k != "csrf_token"}
    try:
        validate_csrf(token if isinstance(token, str) else None)
    except CsrfInvalid:
        return None, api_error(
            "csrf_failed",
            gettext("The page's security token is missing or expired; reload the page."),
            400,
        )
    return body, None


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"


def _user():
    return current_user._get_current_object()


@bp.post("/events")
@role_required()
def post_events():
    body, refused = _checked_body()
    if refused is not None:
        return refused
    result = events.ingest_body(_user(), body)
    current_app.logger.debug("events: %s", result.json())
    return jsonify(result.json())


@bp.post("/scorm/<pack>/<slug>")
@role_required()
def post_scorm(pack: str, slug: str):
    """Keep what a SCORM activity set for the learner (docs/content-packs.md, the SCORM bridge)."""
    body, refused = _checked_body()
    if refused is not None:
        return refused
    return jsonify(scorm.save(_user(), f"{pack}/{slug}", body))


@bp.get("/progress/me")
@role_required()
def progress_me():
    mine = courses.my_courses(_user(), _lang())
    return jsonify({"courses": [c.json() for c in mine]})


@bp.get("/courses")
@role_required()
def course_list():
    mine = courses.my_courses(_user(), _lang())
    return jsonify({"courses": [c.json(with_items=False) for c in mine]})


@bp.get("/courses/<pack>/<slug>")
@role_required()
def course_detail(pack: str, slug: str):
    return jsonify(courses.course_outline(_user(), f"{pack}/{slug}", _lang()).json())


@bp.get("/cohorts")
@role_required()
def cohort_list():
    return jsonify(
        {
            "cohorts": [
                {"id": c.id, "name": c.name, "description": c.description}
                for c in accounts.visible_cohorts(_user())
            ]
        }
    )


@bp.get("/cohorts/<int:cohort_id>/progress")
@role_required("instructor", "admin")
def cohort_progress(cohort_id: int):
    if not accounts.can_see_cohort(_user(), cohort_id):
        abort(404)  # as for a cohort that does not exist: ids of others stay unknown
    cohort = accounts.get_cohort(cohort_id)
    keys = request.args.getlist("course") or None
    return jsonify(dashboard.cohort_matrix(cohort, _lang(), keys).json())
