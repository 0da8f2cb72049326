"""Course authoring: the editor pages and ``/api/v1/authoring`` (issue 17).

Thin views over ``content_packs.authoring``; the editor page is a small vanilla-JS app
(static/js/authoring.js) that talks to the same JSON API documented in docs/api.md.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user
from werkzeug.utils import secure_filename

from content_packs.authoring import drafts
from content_packs.errors import InvalidPack, Problem
from content_packs.item_types import TYPE_LABELS
from content_packs.store import ContentStore, is_sha256

from ...base import uploads
from ...base.errors import N_, ValidationError
from ...web import bodylimit
from ...web.auth import role_required
from . import uploads as uploads_bp

log = logging.getLogger(__name__)

bp = Blueprint("authoring", __name__)
API = "/api/v1/authoring"
AUTHORS = ("instructor", "admin")


MEDIA_PURPOSE = "authoring_media"


def _media_limit(settings: Any) -> int:
    """Largest video, audio or PDF an editor may send: as large as a pack may be."""
    return settings["packs.max_upload_mb"] * 1024 * 1024


@bp.record_once
def _upload_purpose(state: Any) -> None:
    """Let authors send large media as resumable uploads (purpose ``authoring_media``)."""
    uploads_bp.add_purpose(
        state.app,
        MEDIA_PURPOSE,
        uploads_bp.Purpose(
            roles=AUTHORS,
            max_bytes=_media_limit,
            too_large=lambda settings: drafts.BadDraft(
                N_("The file is larger than %(mb)s MB; upload it as a pack instead"),
                mb=settings["packs.max_upload_mb"],
                code="draft_media_too_large",
            ),
        ),
    )


def _settings() -> Any:
    return current_app.config["KRU"]


def _home() -> Any:
    return current_app.config["KRU_HOME"]


def _user() -> str:
    return current_user.username


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError(N_("Send a JSON object"), code="bad_json")
    return body


def _problems(exc: InvalidPack) -> None:
    def one(p: Problem) -> dict[str, str]:
        return {"code": p.code, "file": p.file, "message": p.localized(gettext)}

    exc.details = {"problems": [one(p) for p in exc.problems]}


@bp.post(f"{API}/courses")
@role_required(*AUTHORS)
def api_create():
    draft = drafts.create(_body().get("title"), _user(), drafts.site_label(_settings()))
    return jsonify({"id": draft.id, "revision": draft.revision}), 201


@bp.get(f"{API}/courses")
@role_required(*AUTHORS)
def api_list():
    return jsonify({"drafts": drafts.list_drafts()})


@bp.get(f"{API}/courses/<draft_id>")
@role_required(*AUTHORS)
def api_get(draft_id: str):
    return jsonify(drafts.as_json(draft_id))


@bp.patch(f"{API}/courses/<draft_id>")
@role_required(*AUTHORS)
def api_update(draft_id: str):
    return jsonify({"revision": drafts.update(draft_id, _body(), _user())})


@bp.delete(f"{API}/courses/<draft_id>")
@role_required(*AUTHORS)
def api_delete(draft_id: str):
    drafts.delete(draft_id)
    return jsonify({"deleted": draft_id})


@bp.post(f"{API}/courses/<draft_id>/modules")
@role_required(*AUTHORS)
def api_add_module(draft_id: str):
    module_id, revision = drafts.add_module(draft_id, _body(), _user())
    return jsonify({"id": module_id, "revision": revision}), 201


@bp.patch(f"{API}/courses/<draft_id>/modules/<module_id>")
@role_required(*AUTHORS)
def api_update_module(draft_id: str, module_id: str):
    return jsonify({"revision": drafts.update_module(draft_id, module_id, _body(), _user())})


@bp.delete(f"{API}/courses/<draft_id>/modules/<module_id>")
@role_required(*AUTHORS)
def api_delete_module(draft_id: str, module_id: str):
    return jsonify({"revision": drafts.delete_module(draft_id, module_id, _body(), _user())})


@bp.post(f"{API}/courses/<draft_id>/items")
@role_required(*AUTHORS)
def api_add_item(draft_id: str):
    item_id, revision = drafts.add_item(draft_id, _body(), _user())
    return jsonify({"id": item_id, "revision": revision}), 201


@bp.patch(f"{API}/courses/<draft_id>/items/<item_id>")
@role_required(*AUTHORS)
def api_update_item(draft_id: str, item_id: str):
    return jsonify({"revision": drafts.update_item(draft_id, item_id, _body(), _user())})


@bp.delete(f"{API}/courses/<draft_id>/items/<item_id>")
@role_required(*AUTHORS)
def api_delete_item(draft_id: str, item_id: str):
    return jsonify({"revision": drafts.delete_item(draft_id, item_id, _body(), _user())})


@bp.put(f"{API}/courses/<draft_id>/order")
@role_required(*AUTHORS)
def api_order(draft_id: str):
    return jsonify({"revision": drafts.reorder(draft_id, _body(), _user())})


@bp.post(f"{API}/courses/<draft_id>/media")
@role_required(*AUTHORS)
# An image or short clip goes up in one request, as big as one upload chunk (issue 12:
# every route's body is capped; the default 1 MiB refused ordinary photos).
@bodylimit.limit(uploads.CHUNK_BYTES + 64 * 1024)
def api_media(draft_id: str):
    """Take a file for the draft: multipart field ``file`` (up to 8 MB), or JSON
    ``{"upload": id}`` naming a finished resumable upload (video, audio, PDF, captions)."""
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        return _media_from_upload(draft_id, body.get("upload"))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError(N_("Choose a file to upload"), code="upload_missing_file")
    _home().tmp.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="media-", dir=_home().tmp))
    try:
        path = folder / "upload"
        upload.save(path)
        ref = drafts.add_media(draft_id, upload.filename, path, _home(), _user())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _media_ref(draft_id, ref)


def _media_from_upload(draft_id: str, upload_id: Any):
    if not isinstance(upload_id, str):
        raise ValidationError(
            N_('Send JSON {"upload": "<id>"} naming a finished upload'), code="invalid_body"
        )
    drafts.get(draft_id)
    store = uploads.UploadStore(_home())
    upload = store.get(upload_id, current_user.id)
    filename = upload.metadata.get("filename") or "file"
    name = secure_filename(filename) or "upload"
    with store.claim(upload.id, current_user.id, MEDIA_PURPOSE, name=name) as path:
        ref = drafts.add_media(
            draft_id, filename, path, _home(), _user(), max_bytes=_media_limit(_settings())
        )
    return _media_ref(draft_id, ref)


def _media_ref(draft_id: str, ref: dict[str, Any]):
    ref["url"] = url_for("authoring.media", draft_id=draft_id, sha256=ref["sha256"])
    return jsonify(ref), 201


@bp.get("/authoring/<draft_id>/media/<sha256>")
@role_required(*AUTHORS)
def media(draft_id: str, sha256: str):
    """Serve a draft's file to its editors (learners see it once published, under /c/)."""
    from content_packs.manifest import mime_for

    row = drafts.media_sha(draft_id, sha256) if is_sha256(sha256) else None
    if row is None:
        abort(404)
    response = send_file(
        ContentStore(_home()).path_for(sha256), mimetype=mime_for(row.path), etag=sha256
    )
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@bp.post(f"{API}/preview")
@role_required(*AUTHORS)
def api_preview():
    """Render Markdown with the server's own sanitiser, as learners will see it."""
    from content_packs.authoring.preview import render_markdown

    body = _body()
    text = body.get("body_md")
    if not isinstance(text, str):
        raise ValidationError(N_("body_md must be text (Markdown)"), code="draft_invalid")
    return jsonify({"html": render_markdown(text, body.get("draft"))})


@bp.post(f"{API}/courses/<draft_id>/publish")
@role_required(*AUTHORS)
def api_publish(draft_id: str):
    from content_packs.authoring import publish

    try:
        result = publish.publish(draft_id, _settings(), _home(), _user())
    except InvalidPack as exc:
        _problems(exc)
        raise
    body = {
        "pack": {"id": result.pack_id, "version": result.version, "signed": result.signed},
        "upgraded_from": result.upgraded_from,
        "already_installed": result.already_installed,
    }
    return jsonify(body), 201


@bp.post(f"{API}/packs/<pack_id>/draft")
@role_required(*AUTHORS)
def api_open_pack(pack_id: str):
    from content_packs.authoring import publish

    draft = publish.open_pack(pack_id, _home(), _user())
    return jsonify({"id": draft.id, "revision": draft.revision}), 201


@bp.get("/api/v1/packs/<pack_id>/download")
@role_required(*AUTHORS)
def api_download(pack_id: str):
    """Send an installed pack as a zip, rebuilt from the content store and signed here."""
    from content_packs.authoring.exports import pack_zip

    path = pack_zip(pack_id, _home())
    response = send_file(
        path,
        mimetype="application/zip",
        as_attachment=True,
        download_name=path.name.split("--", 1)[-1],
    )
    response.call_on_close(lambda: shutil.rmtree(path.parent, ignore_errors=True))
    return response


# --- pages ------------------------------------------------------------------------


@bp.get("/authoring/")
@role_required(*AUTHORS)
def index():
    from content_packs import install as installer

    return render_template(
        "authoring/index.html",
        drafts=drafts.list_drafts(),
        packs=installer.list_packs(),
        waiting=_waiting(),
    )


def _waiting() -> list[dict[str, Any]]:
    from sync.edge import downloads, local_versions

    return local_versions.waiting(_home(), downloads.read_state(_home())["packs"])


def _choose(pack_id: str, choice: Any) -> None:
    from sync.edge import downloads, local_versions

    state = downloads.read_state(_home())["packs"]
    local_versions.choose(_home(), state, pack_id, str(choice or ""), _user())


@bp.post("/authoring/versions/<pack_id>")
@role_required("admin")
def choose_version(pack_id: str):
    """The admin keeps this site's version of a pack, or takes central's (issue 17, 4)."""
    _choose(pack_id, request.form.get("choice"))
    return redirect(url_for("authoring.index"))


@bp.get(f"{API}/versions")
@role_required(*AUTHORS)
def api_waiting():
    return jsonify({"waiting": _waiting()})


@bp.post(f"{API}/versions/<pack_id>")
@role_required("admin")
def api_choose_version(pack_id: str):
    _choose(pack_id, _body().get("choice"))
    return jsonify({"pack": pack_id, "choice": _body()["choice"]})


@bp.post("/authoring/new")
@role_required(*AUTHORS)
def new():
    title = {"km": request.form.get("title_km", ""), "en": request.form.get("title_en", "")}
    draft = drafts.create(title, _user(), drafts.site_label(_settings()))
    return redirect(url_for("authoring.edit", draft_id=draft.id))


@bp.post("/authoring/open/<pack_id>")
@role_required(*AUTHORS)
def open_pack(pack_id: str):
    from content_packs.authoring import publish

    draft = publish.open_pack(pack_id, _home(), _user())
    return redirect(url_for("authoring.edit", draft_id=draft.id))


def _type_names() -> dict[str, str]:
    """Return the outline's word for each kind of item, in the page's language."""
    names = {kind: gettext(label) for kind, label in TYPE_LABELS.items()}
    names["task"] = gettext("Assignment")  # the editor's word, as on its "+ Assignment" button
    return names


@bp.get("/authoring/<draft_id>")
@role_required(*AUTHORS)
def edit(draft_id: str):
    draft = drafts.as_json(draft_id)
    return render_template(
        "authoring/edit.html",
        draft=draft,
        type_names=_type_names(),
        chunk_bytes=uploads.CHUNK_BYTES,
        media_limit=_media_limit(_settings()),
    )


@bp.get("/authoring/<draft_id>/preview")
@role_required(*AUTHORS)
def preview(draft_id: str):
    from content_packs.authoring.preview import preview_items

    draft = drafts.as_json(draft_id)
    return render_template("authoring/preview.html", draft=draft, items=preview_items(draft_id))
