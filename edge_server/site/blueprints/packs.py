"""Content-pack pages and API: list, upload, remove, USB install, content files.

Views are thin: the work is in ``content_packs`` (no Flask there). A pack comes either in
one multipart request (up to one upload chunk, for scripts) streamed to a file in the data
home's tmp, or as a finished resumable upload (``edge_server.uploads``, what the upload
page sends); either way it is installed all or nothing.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from flask import (
    Blueprint,
    Response,
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
from flask_babel import gettext
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.formparser import FormDataParser
from werkzeug.utils import secure_filename
from wtforms.validators import ValidationError as CSRFInvalid

from content_packs import catalog, usb
from content_packs.errors import InvalidPack, PackTooLarge, Problem
from content_packs.manifest import mime_for
from content_packs.store import ContentStore, is_sha256

from ...base import uploads
from ...base.errors import N_, KruError, ValidationError
from ...web import bodylimit
from ...web.auth import role_required
from ...web.i18n import select_locale
from . import uploads as uploads_bp

if TYPE_CHECKING:
    from content_packs import install as installer

log = logging.getLogger(__name__)

bp = Blueprint("packs", __name__)

UPLOAD_PREFIX = "upload-"
CONTENT_CACHE = "private, max-age=31536000, immutable"
STREAM_BLOCK = 1 << 20  # read size when a server without a fast path iterates a media file
# Pack files that a browser could run as a page are served in an opaque, script-free origin.
SANDBOX_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"
)
ACTIVE_TYPES = ("text/html", "image/svg+xml", "text/xml", "application/xml")
# One multipart request carries a pack of up to one upload chunk, plus the form's framing.
ONE_REQUEST_BYTES = uploads.CHUNK_BYTES + 64 * 1024
FORM_FIELD_BYTES = 1024 * 1024  # the multipart decoder's buffer; the file goes to disk


@bp.record_once
def _stream_uploads(state: Any) -> None:
    """Let the upload view read the body itself: Flask-WTF's check would parse the whole
    form first (spooling the pack elsewhere). The view checks the CSRF header instead."""
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(f"{__name__}.api_upload")


@bp.record_once
def _upload_purpose(state: Any) -> None:
    """Let instructors and admins send packs as resumable uploads (purpose ``pack``)."""
    uploads_bp.add_purpose(
        state.app,
        "pack",
        uploads_bp.Purpose(
            roles=("instructor", "admin"),
            max_bytes=lambda settings: settings["packs.max_upload_mb"] * 1024 * 1024,
            too_large=lambda settings: _too_large(settings["packs.max_upload_mb"]),
        ),
    )


def _check_csrf_header() -> None:
    """Raises: CSRFError when the X-CSRFToken header is missing or wrong."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    token = request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token")
    try:
        validate_csrf(token)
    except CSRFInvalid as exc:
        raise CSRFError(exc.args[0] if exc.args else "CSRF") from None


def _settings() -> Any:
    return current_app.config["KRU"]


def _home() -> Any:
    return current_app.config["KRU_HOME"]


def _limit_bytes() -> int:
    return _settings()["packs.max_upload_mb"] * 1024 * 1024


def _too_large(limit_mb: int | None = None) -> PackTooLarge:
    return PackTooLarge(
        N_("The pack is larger than this site's upload limit of %(limit)s MB"),
        limit=limit_mb if limit_mb is not None else _settings()["packs.max_upload_mb"],
    )


class _CappedFile:
    """A temporary file in the data home that refuses to grow past the upload limit."""

    def __init__(self, fh: IO[bytes], limit: int) -> None:
        self.fh = fh
        self.limit = limit
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise _too_large()
        return self.fh.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fh, name)


@contextlib.contextmanager
def received_upload():  # yields the Path of the uploaded pack
    """Stream the multipart field ``file`` to a temporary file and yield its path.

    Raises:
        PackTooLarge: the body is over ``packs.max_upload_mb``.
        ValidationError: the request holds no field ``file``.
    """
    limit = _limit_bytes()
    if request.mimetype != "multipart/form-data":
        raise ValidationError(
            N_("Send the pack as a form upload (multipart/form-data) in the field 'file'"),
            code="upload_missing_file",
        )
    tmp_dir = _home().tmp
    tmp_dir.mkdir(parents=True, exist_ok=True)
    made: list[_CappedFile] = []

    def factory(filename: str | None = None, **_kwargs: Any) -> _CappedFile:
        # A folder per upload keeps the instructor's file name for messages.
        folder = Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX, dir=tmp_dir))
        path = folder / (secure_filename(filename or "") or "pack.zip")
        capped = _CappedFile(open(path, "xb"), limit)  # closed in finally
        capped.path = path  # type: ignore[attr-defined]
        made.append(capped)
        return capped

    # The body is at most ONE_REQUEST_BYTES (bodylimit). The decoder's buffer limit counts
    # file parts too: at 64 KiB it refused most real packs with 413 (issue 12).
    # werkzeug passes the factory's arguments by keyword; its type names them positionally.
    parser = FormDataParser(
        stream_factory=factory,  # type: ignore[arg-type]
        max_form_memory_size=FORM_FIELD_BYTES,
    )
    try:
        _stream, form, files = parser.parse(
            request.stream, request.mimetype, request.content_length, request.mimetype_params
        )
        upload = files.get("file")
        if upload is None or not upload.filename:
            raise ValidationError(
                N_("Choose a pack file (.zip) to upload"), code="upload_missing_file"
            )
        target = upload.stream
        target.flush()
        for capped in made:
            capped.close()
        request.environ["kru.upload_form"] = form
        yield target.path  # type: ignore[attr-defined]  # the _CappedFile made above
    finally:
        for capped in made:
            capped.close()
            shutil.rmtree(capped.path.parent, ignore_errors=True)


def _problem_json(problem: Problem) -> dict[str, str]:
    return {"code": problem.code, "file": problem.file, "message": problem.localized(gettext)}


def _pack_json(result: installer.InstallResult) -> dict[str, Any]:
    return {
        "pack": {"id": result.pack_id, "version": result.version, "signed": result.signed},
        "upgraded_from": result.upgraded_from,
        "already_installed": result.already_installed,
        "courses": [
            _course_json(*course)
            for course in catalog.pack_courses(result.pack_id, select_locale())
        ],
    }


def _course_json(key: str, title: str, is_open: bool) -> dict[str, Any]:
    """A course the pack brought, with where to open it and where to assign it (issue 14)."""
    pack, _, slug = key.partition("/")
    return {
        "id": key,
        "title": title,
        "open": is_open,
        "url": url_for("learn.course", pack=pack, slug=slug),
        "assign_url": url_for("teach.cohorts", assign=key),
    }


def _install(path: Path, force: bool) -> tuple[installer.InstallResult, Any]:
    """Install the pack at ``path``; GIFT, Aiken, QTI, H5P ... files become a pack first
    (issue 18). Returns the result and the import report (None for a Kru pack)."""
    from content_packs import install as installer
    from content_packs.importers.convert import as_pack

    try:
        path, report = as_pack(path)
        result = installer.install_pack(
            path, _settings(), _home(), force=force, installed_by=current_user.username
        )
        return result, report
    except InvalidPack as exc:
        exc.details = {"problems": [_problem_json(p) for p in exc.problems]}
        raise


def _install_upload() -> tuple[installer.InstallResult, Any]:
    """Install the finished resumable upload named by the JSON body ``{"upload": id}``."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("upload"), str):
        raise ValidationError(
            N_('Send JSON {"upload": "<id>"} naming a finished upload'), code="invalid_body"
        )
    force = data.get("force") in (True, 1, "1", "true", "on")
    store = uploads.UploadStore(_home(), settings=current_app.config["KRU"])
    upload = store.get(data["upload"], current_user.id)
    name = secure_filename(upload.metadata.get("filename", "")) or "pack.zip"
    with store.claim(upload.id, current_user.id, "pack", name=name) as path:
        return _install(path, force)


@bp.post("/api/v1/packs")
@role_required("instructor", "admin")
@bodylimit.limit(
    ONE_REQUEST_BYTES,
    code=PackTooLarge.code,
    message=N_(
        "A pack sent in one request may have at most %(limit)s MB; larger packs go up in "
        "parts, as the upload page sends them (see the resumable uploads in docs/api.md)."
    ),
)
def api_upload():
    """Install a pack: multipart field ``file`` (``force=1`` allows older versions), or JSON
    ``{"upload": id, "force": false}`` naming a finished resumable upload."""
    _check_csrf_header()
    if request.is_json:
        result, report = _install_upload()
    else:
        with received_upload() as path:
            form = request.environ.get("kru.upload_form") or {}
            force = (request.args.get("force") or form.get("force") or "") in ("1", "true", "on")
            result, report = _install(path, force)
    log.info("pack %s %s uploaded by %s", result.pack_id, result.version, current_user.username)
    body = _pack_json(result)
    if report is not None:
        body["import"] = report.as_dict()
    return jsonify(body), 200 if result.already_installed else 201


@bp.get("/api/v1/packs")
@role_required("instructor", "admin")
def api_list():
    from content_packs import install as installer

    return jsonify({"packs": installer.list_packs()})


def _only_installed_by() -> str | None:
    """Instructors may remove only the packs they installed; admins any (issue 12)."""
    return None if current_user.role == "admin" else current_user.username


@bp.delete("/api/v1/packs/<pack_id>")
@role_required("instructor", "admin")
def api_remove(pack_id: str):
    from content_packs import install as installer

    removed = installer.remove_pack(pack_id, _home(), installed_by=_only_installed_by())
    return jsonify({"removed": removed})


@bp.get("/packs/")
@role_required("instructor", "admin")
def index():
    from content_packs import install as installer

    shown_usb = usb.panel(current_app.config) if current_user.role == "admin" else None
    mine = _only_installed_by()
    packs = [
        {**p, "removable": mine is None or p["installed_by"] == mine}
        for p in installer.list_packs()
    ]
    return render_template("packs/index.html", packs=packs, panel=shown_usb)


@bp.get("/packs/upload")
@role_required("instructor", "admin")
def upload():
    return render_template(
        "packs/upload.html",
        limit_mb=_settings()["packs.max_upload_mb"],
        chunk_bytes=uploads.CHUNK_BYTES,
    )


@bp.post("/packs/<pack_id>/remove")
@role_required("instructor", "admin")
def remove(pack_id: str):
    from content_packs import install as installer

    try:
        info = installer.remove_pack(pack_id, _home(), installed_by=_only_installed_by())
    except KruError as exc:
        flash(exc.localized(gettext), "error")
    else:
        flash(
            gettext("Removed %(pack)s %(version)s.", pack=info["pack_id"], version=info["version"]),
            "success",
        )
    return redirect(url_for("packs.index"))


@bp.post("/packs/usb/install")
@role_required("admin")
def usb_install():
    from content_packs import install as installer

    roots = list(_settings()["packs.usb_roots"])
    try:
        path = usb.resolve_usb_path(request.form.get("path", ""), roots)
        result = installer.install_pack(
            path,
            _settings(),
            _home(),
            force=request.form.get("force") == "1",
            installed_by=current_user.username,
        )
    except KruError as exc:
        flash(exc.localized(gettext), "error")
    else:
        if result.already_installed:
            message = gettext(
                "%(pack)s %(version)s is installed already.",
                pack=result.pack_id,
                version=result.version,
            )
        else:
            message = gettext(
                "Installed %(pack)s %(version)s.", pack=result.pack_id, version=result.version
            )
        flash(message, "success")
    target = request.form.get("next", "")
    return redirect(target if target in ("/admin/", "/packs/") else url_for("packs.index"))


def _stream_range(response: Response, path: Path) -> Response:
    """Send a Range answer through the server's file wrapper instead of 8 KB Python chunks.

    waitress sends a ``wsgi.file_wrapper`` from its own loop in socket-buffer-sized reads;
    seeked to the range's start, with Content-Length set, it sends exactly the range.
    """
    wrapper = request.environ.get("wsgi.file_wrapper")
    span = response.content_range
    if wrapper is None or span.start is None or span.stop is None:
        return response
    response.close()  # the file send_file opened
    stream = open(path, "rb")  # closed by the server after sending
    stream.seek(span.start)
    response.response = wrapper(stream, STREAM_BLOCK)
    response.content_length = span.stop - span.start
    return response


@bp.get("/c/<sha256>")
@bp.get("/c/<sha256>/<path:filename>")
@login_required
def content(sha256: str, filename: str | None = None):
    """Serve a pack file by sha256, streamed, with Range and a year-long private cache."""
    if not is_sha256(sha256):
        abort(404)
    # The type comes from the pack's own file name, never from the URL's.
    name = catalog.file_name(sha256)
    if name is None:
        abort(404)
    path = ContentStore(_home()).path_for(sha256)
    if not path.is_file():
        abort(404)
    mime = mime_for(name)
    response = send_file(
        path,
        mimetype=mime,
        conditional=True,
        etag=sha256,
        max_age=31536000,
        download_name=PurePosixPath(name).name,
    )
    if response.status_code == 206:
        response = _stream_range(response, path)
    response.headers["Cache-Control"] = CONTENT_CACHE
    if mime.split(";")[0] in ACTIVE_TYPES:
        response.headers["Content-Security-Policy"] = SANDBOX_CSP
    return response
