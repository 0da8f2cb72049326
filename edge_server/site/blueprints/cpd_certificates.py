"""Pages of certificates: the learner's list, the printable page and PDF, revocation, and the
public verification page and JSON (issue 16, items 7-8). Thin shells over ``certificates``."""

from __future__ import annotations

from typing import Any

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
    url_for,
)
from flask_babel import get_locale, gettext
from flask_login import current_user

from sync import certificate_record as rec

from ... import accounts
from ...base.errors import N_, KruError
from ...cpd import certificates
from ...web.auth import role_required

bp = Blueprint("certificates", __name__)


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"


def _user():
    return current_user._get_current_object()


@bp.app_template_global()
def my_certificates() -> list[certificates.CertificateView]:
    """The signed-in learner's certificates (for the home and progress pages)."""
    if not current_user.is_authenticated or current_user.role != "learner":
        return []
    return certificates.learner_certificates(_user())


def _verify_url(code: str) -> str:
    """Where anyone can check ``code``: the central server once it is known, else this site."""
    base = current_app.config["KRU"]["sync.central_url"]
    if not base:
        try:
            from sync.edge.identity import load_identity  # the sync feature

            base = load_identity(certificates.issuer().home).central_url  # type: ignore[union-attr]
        except (ImportError, AttributeError, OSError):
            base = ""
    return (
        f"{base.rstrip('/')}/verify/{code}"
        if base
        else url_for(".verify", code=code, _external=True)
    )


def _mine(code: str) -> certificates.CertificateView:
    try:
        found = certificates.by_code(code)
    except KruError:
        abort(404)
    if not accounts.can_see_learner(_user(), found.certificate.user_id):
        abort(403)
    return found


@bp.get("/certificates/<code>")
@role_required()
def printable(code: str):
    found = _mine(code)
    return render_template(
        "cpd/certificate.html",
        cert=found,
        verify_url=_verify_url(found.code),
        can_revoke=certificates.can_revoke(_user(), found.certificate),
    )


@bp.get("/certificates/<code>.pdf")
@role_required()
def pdf(code: str):
    found = _mine(code)
    from ...cpd import certificate_pdf  # fpdf2 loads only when a PDF is asked for

    body = certificate_pdf.render(
        found.record, revoked=found.revoked, verify_url=_verify_url(found.code)
    )
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="certificate-{found.code}.pdf"'},
    )


@bp.post("/certificates/<code>/revoke")
@role_required("instructor", "admin")
def revoke(code: str):
    found = _mine(code)
    try:
        certificates.revoke(found.certificate, by=_user(), reason=request.form.get("reason", ""))
    except KruError as exc:
        flash(exc.localized(gettext), "error")
    else:
        flash(gettext("The certificate is revoked."), "ok")
    return redirect(url_for(".printable", code=found.code))


@bp.get("/verify")
def verify_form():
    typed = request.args.get("code", "")
    if typed:
        return redirect(url_for(".verify", code=rec.normalize_code(typed) or typed.strip()[:40]))
    return render_template("cpd/verify.html", cert=None, code="", known=None)


def _lookup(code: str) -> certificates.CertificateView | None:
    try:
        return certificates.by_code(code)
    except KruError:
        return None


@bp.get("/verify/<code>")
def verify(code: str):
    found = _lookup(code)
    return (
        render_template(
            "cpd/verify.html",
            cert=found,
            cert_signed=found is not None and certificates.signature_holds(found),
            code=code[:40],
            known=found is not None,
        ),
        200 if found else 404,
    )


@bp.get("/api/v1/certificates/<code>")
def api_certificate(code: str):
    if rec.normalize_code(code) is None:
        raise certificates.CertificateError(
            N_("A verification code has 10 letters and digits, like 7K3QP-M9XR2."),
            code="invalid_code",
        )
    found = certificates.by_code(code)
    body: dict[str, Any] = found.json()
    body["signature_valid"] = certificates.signature_holds(found)
    body["valid"] = body["valid"] and body["signature_valid"]
    return jsonify(body)
