"""Central page and JSON of competency profiles by province and site (issue 16 item 6)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_babel import get_locale
from flask_login import login_required

from . import competencies
from .views_api import api_role

bp = Blueprint("central_competencies", __name__, template_folder="templates")


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"


@bp.get("/competencies")
@login_required
def profiles():
    return render_template("central/competencies.html", report=competencies.report(), lang=_lang())


@bp.get("/api/v1/competencies")
@api_role("admin", "viewer")
def profiles_json():
    return jsonify(competencies.report().json())
