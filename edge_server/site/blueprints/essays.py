"""Essay questions marked by an instructor (issue 18): the page an entry of kind ``essay``
in the review queue links to, and its JSON twin. Both call ``edge_server.learning.essays``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user

from ... import accounts
from ...base.errors import N_, KruError, ValidationError
from ...learning import essays
from ...tasks import service
from ...web.auth import role_required

bp = Blueprint("essays", __name__)


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"


def _user():
    return current_user._get_current_object()


def as_json(found: essays.EssayAttempt) -> dict[str, Any]:
    return {
        "id": found.id,
        "learner_id": found.learner_id,
        "item": found.item,
        "attempt": found.attempt,
        "submitted_at": found.submitted_at,
        "score_without_essays": found.score,
        "essays": found.essays,
        "marks": found.marks,
        "score": found.final_score,
    }


@bp.get("/teach/essays/<attempt_id>")
@role_required("instructor", "admin")
def mark_page(attempt_id: str):
    found = essays.get(_user(), attempt_id, _lang())
    learner = accounts.get_user(found.learner_id)
    return render_template(
        "tasks/essay.html",
        attempt=found,
        learner=learner,
        title=service.item_title(found.item, _lang()),
    )


@bp.post("/teach/essays/<attempt_id>")
@role_required("instructor", "admin")
def mark_form(attempt_id: str):
    back = url_for("essays.mark_page", attempt_id=attempt_id)
    found = essays.get(_user(), attempt_id, _lang())
    marks = {
        e["id"]: request.form[f"m-{e['id']}"] == "right"
        for e in found.essays
        if request.form.get(f"m-{e['id']}") in ("right", "wrong")
    }
    try:
        essays.mark(_user(), attempt_id, marks, _lang())
    except KruError as exc:
        flash(exc.localized(gettext), "error")
        return redirect(back)
    flash(gettext("Marks saved."), "success")
    return redirect(back)


@bp.get("/api/v1/essays/<attempt_id>")
@role_required("instructor", "admin")
def api_get(attempt_id: str):
    return jsonify(as_json(essays.get(_user(), attempt_id, _lang())))


@bp.post("/api/v1/essays/<attempt_id>/marks")
@role_required("instructor", "admin")
def api_mark(attempt_id: str):
    body = request.get_json(silent=True)
    marks = body.get("marks") if isinstance(body, dict) else None
    if not isinstance(marks, dict) or not all(isinstance(v, bool) for v in marks.values()):
        raise ValidationError(
            N_('Send JSON {"marks": {"<question id>": true or false}}'), code="invalid_body"
        )
    return jsonify(as_json(essays.mark(_user(), attempt_id, marks, _lang())))
