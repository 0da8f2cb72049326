"""Tasks: learners submit work, instructors review it (issue 15). Pages and the JSON API
share ``edge_server.tasks.service``; docs/api.md ("Submissions") describes the API.

Files up to one upload chunk come in the request (multipart field ``file``); larger ones go
up first as resumable uploads of purpose ``submission`` and are named by their upload ids.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale, gettext
from flask_login import current_user
from werkzeug.utils import secure_filename

from ... import accounts
from ...base import uploads
from ...base.csv_writer import csv_text
from ...base.errors import N_, KruError, PermissionDenied, ValidationError
from ...tasks import rubric as rubrics
from ...tasks import service, sniff, storage
from ...tasks.models import STATUSES
from ...web import bodylimit
from ...web.auth import role_required
from . import uploads as uploads_bp

log = logging.getLogger(__name__)

bp = Blueprint("tasks", __name__)

PURPOSE = "submission"
ONE_REQUEST_BYTES = uploads.CHUNK_BYTES + 64 * 1024
TOO_LARGE = N_(
    "One request may carry at most %(limit)s MB of files; larger files go up in parts first "
    "(resumable uploads, docs/api.md), as the task page sends them."
)
FILE_CSP = (
    "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
)


@bp.record_once
def _upload_purpose(state: Any) -> None:
    """Let every signed-in person send task files as resumable uploads (purpose ``submission``)."""
    uploads_bp.add_purpose(
        state.app,
        PURPOSE,
        uploads_bp.Purpose(
            roles=("learner", "instructor", "admin"),
            max_bytes=lambda settings: settings["submissions.max_upload_mb"] * 1024 * 1024,
            too_large=lambda settings: service.SubmissionFileTooLarge(
                N_("The file is larger than this site's limit of %(limit)s MB"),
                limit=settings["submissions.max_upload_mb"],
            ),
        ),
    )


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"


def _user():
    return current_user._get_current_object()


def _home() -> Any:
    return current_app.config["KRU_HOME"]


def _settings() -> Any:
    return current_app.config["KRU"]


@contextlib.contextmanager
def _received(upload_ids: list[str]):  # yields list[service.Incoming]
    """Yield the files of the request: multipart ``file`` fields and claimed uploads."""
    tmp = _home().tmp
    tmp.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="submission-", dir=tmp))
    store = uploads.UploadStore(_home(), settings=current_app.config["KRU"])
    try:
        with contextlib.ExitStack() as stack:
            incoming: list[service.Incoming] = []
            for n, part in enumerate(request.files.getlist("file")):
                if not part.filename:
                    continue
                path = folder / f"{n}-{secure_filename(part.filename) or 'file'}"
                part.save(path)
                part.close()  # werkzeug spools a large part to a temporary file
                incoming.append(service.Incoming(path, part.filename))
            for upload_id in upload_ids:
                upload = store.get(str(upload_id), current_user.id)
                name = upload.metadata.get("filename") or "file"
                path = stack.enter_context(store.claim(upload.id, current_user.id, PURPOSE))
                incoming.append(service.Incoming(path, name))
            yield incoming
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _submit_from_request() -> tuple[Any, bool]:
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        item, note, sid = body.get("item"), body.get("note") or "", body.get("id")
        upload_ids = body.get("uploads") or []
    else:
        item, note, sid = (
            request.form.get("item"),
            request.form.get("note", ""),
            request.form.get("id"),
        )
        upload_ids = request.form.getlist("upload")
    if not isinstance(item, str) or not item or not isinstance(note, str):
        raise ValidationError(N_("Name the task in the field item"), code="invalid_body")
    if not isinstance(upload_ids, list) or not all(isinstance(u, str) for u in upload_ids):
        raise ValidationError(N_("uploads must be a list of upload ids"), code="invalid_body")
    with _received(upload_ids) as incoming:
        return service.submit(
            _user(), item, incoming, note.strip(), _settings(), _home(), sid or None
        )


# --- API ----------------------------------------------------------------------------------


@bp.post("/api/v1/submissions")
@role_required()
@bodylimit.limit(ONE_REQUEST_BYTES, message=TOO_LARGE)
def api_submit():
    """Submit work: multipart ``item``, ``note``, ``file`` (repeatable), ``upload`` (upload
    ids), optional ``id``; or JSON ``{"item", "note", "uploads": [...], "id"}``."""
    row, new = _submit_from_request()
    return jsonify({"id": row.id, "status": row.status, "version": row.version}), (
        201 if new else 200
    )


@bp.get("/api/v1/submissions/<submission_id>")
@role_required()
def api_get(submission_id: str):
    return jsonify(service.as_json(service.get(_user(), submission_id), _lang()))


@bp.post("/api/v1/submissions/<submission_id>/review")
@role_required()
def api_review(submission_id: str):
    """Review: JSON ``{"rubric": {criterion: level}, "comment", "decision"}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError(
            N_('Send JSON {"rubric": {...}, "comment": "...", "decision": "accepted"}'),
            code="invalid_body",
        )
    comment = body.get("comment") or ""
    if not isinstance(comment, str):
        raise ValidationError(N_("comment must be text"), code="invalid_body")
    row = service.review(
        _user(), submission_id, body.get("rubric"), comment, str(body.get("decision"))
    )
    return jsonify(service.as_json(row, _lang()))


@bp.get("/api/v1/cohorts/<int:cohort_id>/submissions")
@role_required()
def api_queue(cohort_id: int):
    entries = service.queue(
        _user(),
        cohort_id,
        _lang(),
        item=request.args.get("item") or None,
        status=request.args.get("status") or None,
        kind=request.args.get("kind") or None,
    )
    return jsonify({"submissions": [e.__dict__ for e in entries]})


# --- files ----------------------------------------------------------------------------------


@bp.get("/submissions/<submission_id>/files/<int:position>")
@role_required()
def file(submission_id: str, position: int):
    """Send a submitted file to its owner or a reviewer, as the type its bytes showed."""
    row = service.get(_user(), submission_id)
    found = service.file_of(row, position)
    path = storage.path_of(_home(), found.sha256)
    if not path.is_file():
        abort(404)
    inline = found.mime in sniff.INLINE and request.args.get("download") != "1"
    response = send_file(
        path,
        mimetype=found.mime,
        as_attachment=not inline,
        download_name=found.name,
        conditional=True,
        max_age=0,
    )
    if found.mime != "application/pdf":
        # Chromium's PDF viewer does not run in a sandboxed document; a PDF is shown as the
        # pack files are (no sniffing: nosniff, the type its bytes showed).
        response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- learner pages ----------------------------------------------------------------------------


@bp.app_template_global()
def task_panel(item_key: str) -> dict[str, Any]:
    """Return what the learner's task page shows: the task, its rubric, their versions."""
    task = service.task_of(item_key)
    versions = service.history(current_user.id, item_key)
    latest = versions[0] if versions else None
    return {
        "task": task,
        "versions": [(v, service.files_of(v)) for v in versions],
        "can_submit": latest is None or latest.status == "returned",
        "limit_mb": min(
            task.max_mb or _settings()["submissions.max_upload_mb"],
            _settings()["submissions.max_upload_mb"],
        ),
        "chunk_bytes": uploads.CHUNK_BYTES,
        "accept_attr": _accept_attr(task.accept),
        "pick": rubrics.pick,
    }


def _accept_attr(kinds: tuple[str, ...]) -> str:
    parts = {
        "document": ".pdf,.doc,.docx,.odt,.xls,.xlsx,.ppt,.pptx,.rtf,application/pdf",
        "image": "image/*",
        "audio": "audio/*",
        "video": "video/*",
    }
    return ",".join(parts[k] for k in kinds if k in parts)


@bp.post("/learn/items/<pack>/<slug>/submissions")
@role_required()
@bodylimit.limit(ONE_REQUEST_BYTES, message=TOO_LARGE)
def submit_page(pack: str, slug: str):
    """The task page's form without JavaScript (files up to one chunk)."""
    back = url_for("learn.item", pack=pack, slug=slug)
    try:
        _submit_from_request()
    except KruError as exc:
        flash(exc.localized(gettext), "error")
        return redirect(back)
    flash(gettext("Your work was submitted. Your instructor will review it."), "success")
    return redirect(back)


# --- instructor pages -------------------------------------------------------------------------


def _cohort(cohort_id: int):
    if not accounts.can_see_cohort(_user(), cohort_id):
        abort(403)
    return accounts.get_cohort(cohort_id)


@bp.get("/teach/cohorts/<int:cohort_id>/submissions")
@role_required("instructor", "admin")
def queue_page(cohort_id: int):
    group = _cohort(cohort_id)
    status = request.args.get("status", "submitted")
    status = status if status in STATUSES else ""
    item = request.args.get("item") or None
    entries = service.queue(_user(), cohort_id, _lang(), item=item, status=status or None)
    return render_template(
        "tasks/queue.html",
        cohort=group,
        entries=entries,
        status=status,
        item=item,
        statuses=STATUSES,
        tasks=service.cohort_tasks(group, _lang()),
    )


@bp.get("/teach/cohorts/<int:cohort_id>/submissions.csv")
@role_required("instructor", "admin")
def queue_csv(cohort_id: int):
    group = _cohort(cohort_id)
    entries = service.queue(_user(), cohort_id, _lang())
    rows: list[list[Any]] = [
        ["learner", "item", "version", "status", "submitted_at", "score", "files"]
    ]
    rows += [
        [e.learner, e.item, e.version, e.status, e.submitted_at, e.score, e.files] for e in entries
    ]
    from flask import Response

    response = Response(csv_text(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="cohort-{group.id}-submissions.csv"'
    )
    return response


@bp.get("/teach/submissions/<submission_id>")
@role_required("instructor", "admin")
def review_page(submission_id: str):
    row = service.get(_user(), submission_id)
    if row.user_id == current_user.id:
        raise PermissionDenied(N_("Only the cohort's instructors and admins review work"))
    task = service.task_of(row.item)
    return render_template(
        "tasks/review.html",
        sub=row,
        files=service.files_of(row),
        task=task,
        pick=rubrics.pick,
        older=[v for v in service.history(row.user_id, row.item) if v.id != row.id],
        title=service.item_title(row.item, _lang()),
    )


@bp.post("/teach/submissions/<submission_id>/review")
@role_required("instructor", "admin")
def review_form(submission_id: str):
    back = url_for("tasks.review_page", submission_id=submission_id)
    row = service.get(_user(), submission_id)
    task = service.task_of(row.item)
    chosen = {
        c.id: request.form[f"c-{c.id}"] for c in task.criteria if request.form.get(f"c-{c.id}")
    }
    try:
        service.review(
            _user(),
            submission_id,
            chosen,
            request.form.get("comment", ""),
            request.form.get("decision", ""),
        )
    except KruError as exc:
        flash(exc.localized(gettext), "error")
        return redirect(back)
    flash(gettext("Review saved."), "success")
    return redirect(back)
