"""The fleet's pack pages on central: the library, adding a signed pack, assigning, per site."""

from __future__ import annotations

import os
import tempfile

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from edge_server.base.errors import N_, KruError
from edge_server.web import bodylimit

from . import library

bp = Blueprint("fleet", __name__, template_folder="templates")

MAX_PAGE_UPLOAD = 64 * bodylimit.MIB  # larger packs: kru central pack add FILE


def _admin() -> None:
    if current_user.role != "admin":
        abort(403)


@bp.get("/fleet/packs")
@login_required
def packs():
    return render_template(
        "central/packs.html",
        library=library.library_listing(),
        fleet=library.fleet_status(),
        is_admin=current_user.role == "admin",
    )


@bp.post("/fleet/packs/add")
@bodylimit.limit(
    MAX_PAGE_UPLOAD,
    "pack_too_large",
    N_("A pack uploaded here may have at most 64 MB; add larger ones with kru central pack add"),
)
@login_required
def add():
    _admin()
    upload = request.files.get("pack")
    if upload is None or not upload.filename:
        flash(gettext("Choose a pack file (.zip) first."), "error")
        return redirect(url_for("fleet.packs"))
    home = current_app.config["KRU_HOME"]
    fd, tmp = tempfile.mkstemp(suffix=".zip", dir=home.root)
    try:
        with os.fdopen(fd, "wb") as fh:
            upload.save(fh)
        added = library.add_pack(tmp, current_app.config["KRU"], home)
    except KruError as exc:
        flash(exc.localized(gettext), "error")
    else:
        flash(
            gettext("Added %(pack)s %(version)s to the library.")
            % {"pack": added.pack_id, "version": added.version},
            "success",
        )
    finally:
        os.unlink(tmp)
    return redirect(url_for("fleet.packs"))


@bp.post("/fleet/packs/assign")
@login_required
def assign():
    _admin()
    pack_id = request.form.get("pack_id", "")
    scope = request.form.get("scope", "")
    target = request.form.get(scope, "") if scope in ("province", "site") else ""
    try:
        library.assign(pack_id, scope, target)
    except KruError as exc:
        flash(exc.localized(gettext), "error")
    else:
        flash(gettext("Assigned; sites fetch it at their next sync."), "success")
    return redirect(url_for("fleet.packs"))


@bp.post("/fleet/packs/unassign/<int:assignment_id>")
@login_required
def unassign(assignment_id: int):
    _admin()
    library.unassign(assignment_id)
    flash(gettext("The assignment is removed; sites keep what they installed."), "success")
    return redirect(url_for("fleet.packs"))
