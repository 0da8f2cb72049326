"""Public verification of certificates on the central server, and CPD records (issue 16)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from flask_login import login_required

from edge_server.base.csv_writer import csv_text
from edge_server.base.errors import N_, KruError, ValidationError
from sync import certificate_record as rec

from . import certificates

bp = Blueprint("central_certificates", __name__, template_folder="templates")


@bp.get("/verify")
def verify_form():
    typed = request.args.get("code", "")
    if typed:
        return redirect(url_for(".verify", code=rec.normalize_code(typed) or typed.strip()[:40]))
    return render_template("central/verify.html", found=None, code="", known=None)


@bp.get("/verify/<code>")
def verify(code: str):
    try:
        found = certificates.verify(code)
    except KruError:
        found = None
    return (
        render_template(
            "central/verify.html", found=found, code=code[:40], known=found is not None
        ),
        200 if found else 404,
    )


@bp.get("/api/v1/certificates/<code>")
def api_certificate(code: str):
    if rec.normalize_code(code) is None:
        raise ValidationError(
            N_("A verification code has 10 letters and digits, like 7K3QP-M9XR2."),
            code="invalid_code",
        )
    return jsonify(certificates.verify(code).json())


@bp.get("/cpd")
@login_required
def cpd():
    query = request.args.get("q", "")
    lines = certificates.cpd_record(query)
    return render_template(
        "central/cpd.html", lines=lines, query=query, total=sum(line.hours for line in lines)
    )


@bp.get("/cpd.csv")
@login_required
def cpd_csv():
    lines = certificates.cpd_record(request.args.get("q", ""))
    return Response(
        csv_text(certificates.cpd_rows(lines)),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="kru-cpd.csv"'},
    )
