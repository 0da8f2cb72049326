"""Central's release pages (issue 20): add a signed Kru bundle, assign it, see each site's
version; and the site update stick, downloaded as a zip for a site or a province."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    after_this_request,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required

from edge_server.base.errors import N_, KruError
from edge_server.web import bodylimit

from . import releases
from .models import Device
from .update_stick import FOLDER, write_stick

bp = Blueprint("releases", __name__, template_folder="templates")

MAX_PAGE_UPLOAD = 256 * bodylimit.MIB  # larger bundles (with .deb files): the CLI


def _admin() -> None:
    if current_user.role != "admin":
        abort(403)


def _keys_dir() -> Path:
    return Path(current_app.config["KRU"]["central.release_keys_dir"])


@bp.get("/fleet/releases")
@login_required
def index():
    return render_template(
        "central/releases.html",
        library=releases.listing(),
        signers=releases.signer_names(_keys_dir()),
        keys_dir=str(_keys_dir()),
        fleet=releases.fleet_status(),
        provinces=sorted({d.province for d in Device.select() if d.province}),
        is_admin=current_user.role == "admin",
    )


@bp.post("/fleet/releases/add")
@bodylimit.limit(
    MAX_PAGE_UPLOAD,
    "release_too_large",
    N_(
        "A release uploaded here may have at most 256 MB; add larger ones with "
        "kru central release add"
    ),
)
@login_required
def add():
    _admin()
    bundle, sig = request.files.get("bundle"), request.files.get("signature")
    if bundle is None or not bundle.filename or sig is None or not sig.filename:
        flash(gettext("Choose the bundle (.tar.gz) and its signature (.sig)."), "error")
        return redirect(url_for("releases.index"))
    home = current_app.config["KRU_HOME"]
    work = Path(tempfile.mkdtemp(dir=home.root))
    try:
        bundle.save(work / "bundle.tar.gz")
        sig.save(work / "bundle.tar.gz.sig")
        row, already = releases.add_release(work / "bundle.tar.gz", home, _keys_dir())
    except KruError as exc:
        flash(exc.localized(gettext), "error")
    else:
        message = (
            gettext("Kru %(version)s is in the library already.")
            if already
            else gettext("Added Kru %(version)s to the library.")
        )
        flash(message % {"version": row.version}, "success")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return redirect(url_for("releases.index"))


@bp.post("/fleet/releases/assign")
@login_required
def assign():
    _admin()
    scope = request.form.get("scope", "")
    target = request.form.get(scope, "") if scope in ("province", "site") else ""
    try:
        releases.assign(request.form.get("version", ""), scope, target)
    except KruError as exc:
        flash(exc.localized(gettext), "error")
    else:
        flash(gettext("Assigned; sites fetch it at their next sync."), "success")
    return redirect(url_for("releases.index"))


@bp.post("/fleet/releases/unassign/<int:assignment_id>")
@login_required
def unassign(assignment_id: int):
    _admin()
    releases.unassign(assignment_id)
    flash(gettext("The assignment is removed; sites keep the version they run."), "success")
    return redirect(url_for("releases.index"))


@bp.post("/fleet/stick")
@login_required
def stick():
    """Send the site update stick for a site or a province as a zip to unpack on a stick."""
    _admin()
    site = request.form.get("site", "").strip() or None
    province = request.form.get("province", "").strip() or None
    home = current_app.config["KRU_HOME"]
    work = Path(tempfile.mkdtemp(dir=home.root))

    @after_this_request
    def _clean(response):
        shutil.rmtree(work, ignore_errors=True)
        return response

    try:
        write_stick(home, work, site=site, province=province)
    except KruError as exc:
        flash(exc.localized(gettext), "error")
        return redirect(url_for("releases.index"))
    out = work / "kru-update.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for path in sorted((work / FOLDER).rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(work).as_posix())
    name = f"kru-update-{site or province}.zip".replace("/", "-")
    fh = open(out, "rb")  # closed by send_file's response
    os.unlink(out)
    return send_file(fh, mimetype="application/zip", as_attachment=True, download_name=name)
