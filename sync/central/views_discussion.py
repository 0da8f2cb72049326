"""Central page of discussion participation per site, cohort and course (issue 16)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from . import discussion

bp = Blueprint("central_discussion", __name__, template_folder="templates")


@bp.get("/discussion")
@login_required
def participation():
    return render_template("central/discussion.html", lines=discussion.participation())
