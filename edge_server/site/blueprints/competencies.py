"""Competency profiles (issue 16 item 6): the learner's own, a cohort's matrix for its
instructors, one learner's for them. Pages and JSON share ``competencies.profiles``."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template
from flask_babel import get_locale
from flask_login import current_user

from ... import accounts
from ...base.errors import NotFound, PermissionDenied
from ...competencies import profiles, rules
from ...web.auth import role_required

bp = Blueprint("competencies", __name__)


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"


def _user():
    return current_user._get_current_object()


def _common() -> dict:
    return {
        "level_names": profiles.LEVEL_NAMES,
        "kind_names": profiles.KIND_NAMES,
        "levels": rules.LEVELS,
        # a variable, not a constant: Jinja folds a filter on a constant once, in one language
        "proficient_share": round(rules.PROFICIENT_SHARE * 100),
    }


@bp.get("/competencies")
@role_required()
def mine():
    profile = profiles.learner_profile(_user(), _user().id, _lang())
    return render_template("competencies/profile.html", profile=profile, cohort=None, **_common())


@bp.get("/api/v1/competencies")
@role_required()
def mine_json():
    return jsonify(profiles.learner_profile(_user(), _user().id, _lang()).json())


@bp.get("/teach/cohorts/<int:cohort_id>/competencies")
@role_required("instructor", "admin")
def cohort(cohort_id: int):
    try:
        matrix = profiles.cohort_matrix(_user(), cohort_id, _lang())
    except PermissionDenied:
        abort(404)  # as the cohort's other pages: no hint which cohort ids exist
    return render_template("competencies/matrix.html", matrix=matrix, **_common())


@bp.get("/api/v1/cohorts/<int:cohort_id>/competencies")
@role_required("instructor", "admin")
def cohort_json(cohort_id: int):
    try:
        matrix = profiles.cohort_matrix(_user(), cohort_id, _lang())
    except PermissionDenied:
        abort(404)  # as GET /api/v1/cohorts/<id>/progress
    return jsonify(matrix.json())


@bp.get("/teach/cohorts/<int:cohort_id>/competencies/<int:user_id>")
@role_required("instructor", "admin")
def learner(cohort_id: int, user_id: int):
    if not accounts.can_see_cohort(_user(), cohort_id):
        abort(404)
    group = accounts.get_cohort(cohort_id)
    if user_id not in {u.id for u in accounts.cohort_learners(group)}:
        abort(404)
    try:
        profile = profiles.learner_profile(_user(), user_id, _lang())
    except NotFound:
        abort(404)
    return render_template("competencies/profile.html", profile=profile, cohort=group, **_common())
