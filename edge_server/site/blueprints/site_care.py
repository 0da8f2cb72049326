"""The Site page's care cards: backups to USB, the clock, power and disk (issue 19).

Thin: each action calls one function of :mod:`..usb_backup` or :mod:`...system`, flashes
the outcome in the admin's language and returns to the Site page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from sync.edge import state as sync_state

from ...base import diskspace
from ...base.db import db
from ...base.errors import N_, KruError, ValidationError
from ...system import clock, clock_epoch, helper, power
from ...system import sticks as stick_paths
from ...web.auth import role_required
from ...web.i18n import khmer_digits
from .. import usb_backup

bp = Blueprint("site_care", __name__, url_prefix="/admin")


def _settings() -> Any:
    return current_app.config["KRU"]


def _home() -> Any:
    return current_app.config["KRU_HOME"]


# Releases and update sticks bring requests, cryptography and the pack installer: imported
# when the Site page needs them, not by every server process at start (issue 22's memory).
def _releases() -> Any:
    from sync.edge import releases

    return releases


def _update_stick() -> Any:
    from sync.edge import update_stick

    return update_stick


def panels() -> list[tuple[str, Any]]:
    """Return the care cards of the Site page: (template, what it shows as ``panel``)."""
    settings = _settings()
    return [
        ("admin/_disk_panel.html", diskspace.status(_home().root, settings)),
        ("admin/_release_panel.html", _releases().panel(_home())),
        ("admin/_backup_panel.html", usb_backup.panel(settings, _home(), db)),
        ("admin/_clock_panel.html", clock.status(settings)),
        ("admin/_power_panel.html", power.read(settings["system.throttled_file"])),
    ]


def _device() -> str:
    device = request.form.get("device", "")
    helper.check(f"eject-{device}")  # the same device names the helper takes
    return device


def _done(message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("admin.index") + "#backup")


def _failed(exc: KruError) -> Response:
    flash(exc.localized(gettext), "error")
    return redirect(url_for("admin.index") + "#backup")


@bp.post("/usb/open")
@role_required("admin")
def usb_open() -> Response:
    try:
        device = _device()
        usb_backup.open_stick(_settings(), device)
        stick = stick_paths.stick_path(Path(_settings()["backup.usb_root"]), device)
        cursor = usb_backup.read_sync_ack(_home(), db, stick)
    except KruError as exc:
        return _failed(exc)
    if cursor is not None:
        flash(
            gettext(
                "The ministry's server received the learning records saved on this stick; "
                "%(count)s records still wait to be sent.",
                count=khmer_digits(str(sync_state.pending_events(db))),
            ),
            "success",
        )
    return _done(gettext("The USB stick is open (read-only)."))


@bp.post("/usb/sync")
@role_required("admin")
def usb_save_sync() -> Response:
    try:
        saved = usb_backup.save_sync_data(_settings(), _home(), db, _device())
    except KruError as exc:
        return _failed(exc)
    if not saved["events"]:
        return _done(gettext("Nothing to save: the ministry's server has every learning record."))
    return _done(
        gettext(
            "%(count)s learning records saved on the USB stick. Take it to the ministry or to "
            "any place with internet; bring it back so the Pi learns they arrived.",
            count=khmer_digits(str(saved["events"])),
        )
    )


@bp.post("/usb/eject")
@role_required("admin")
def usb_eject() -> Response:
    try:
        usb_backup.eject(_settings(), _device())
    except KruError as exc:
        return _failed(exc)
    return _done(gettext("You can take the USB stick out now."))


@bp.post("/usb/backup")
@role_required("admin")
def usb_backup_now() -> Response:
    try:
        name = usb_backup.back_up(_settings(), _home(), _device())
    except KruError as exc:
        return _failed(exc)
    return _done(gettext("Backup %(name)s written to the USB stick.", name=name))


@bp.route("/usb/restore", methods=["GET", "POST"])
@role_required("admin")
def usb_restore() -> Response | str:
    form = request.values
    name = form.get("name", "")
    try:
        device = _device() if request.method == "POST" else form.get("device", "")
        if request.method == "GET":
            helper.check(f"eject-{device}")
            return render_template("admin/usb_restore.html", device=device, name=name)
        if form.get("confirm") != "yes":
            raise ValidationError(
                N_("Tick the box to confirm that the site is replaced"), code="not_confirmed"
            )
        usb_backup.stage_restore(_settings(), _home(), device, name)
        usb_backup.restart(_settings())
    except KruError as exc:
        return _failed(exc)
    return render_template("admin/usb_restarting.html", name=name)


def _stick() -> Any:
    from pathlib import Path

    device = _device()
    return stick_paths.stick_path(Path(_settings()["backup.usb_root"]), device)


@bp.post("/usb/update")
@role_required("admin")
def usb_update() -> Response:
    """Install a site update stick written by central: its packs, then its Kru release."""
    try:
        done = _update_stick().install(_settings(), _home(), _stick())
    except KruError as exc:
        return _failed(exc)
    flash(
        gettext(
            "Site update: %(new)s packs installed, %(same)s already here.",
            new=len(done.installed),
            same=len(done.unchanged),
        ),
        "success",
    )
    for label, reason in done.failed:
        flash(gettext("Not installed: %(what)s: %(why)s", what=label, why=reason), "error")
    if done.release:
        flash(
            gettext(
                "Kru %(version)s is being installed; Kru restarts in a few minutes.",
                version=done.release,
            ),
            "success",
        )
    return redirect(url_for("admin.index") + "#backup")


@bp.post("/usb/release")
@role_required("admin")
def usb_release() -> Response:
    """Upgrade Kru from a signed bundle on the stick (checked; the helper switches)."""
    try:
        version = _update_stick().apply_bundle(
            _settings(), _home(), _stick(), request.form.get("name", "")
        )
    except KruError as exc:
        return _failed(exc)
    return _done(
        gettext(
            "Kru %(version)s is being installed; Kru restarts in a few minutes.", version=version
        )
    )


@bp.post("/clock")
@role_required("admin")
def set_clock() -> Response:
    settings = _settings()
    try:
        browser_ms = request.form.get("browser_ms", type=int)
        if browser_ms is None:
            raise ValidationError(N_("The browser did not send its time"), code="clock_missing")
        seconds = clock.check_offer(settings, browser_ms / 1000)
        helper.run(settings, f"clock-{seconds}")
        clock_epoch.changed()  # central corrects the times before and after apart
    except KruError as exc:
        flash(exc.localized(gettext), "error")
        return redirect(url_for("admin.index") + "#clock")
    flash(gettext("The Pi's clock was set to this browser's time."), "success")
    return redirect(url_for("admin.index") + "#clock")
