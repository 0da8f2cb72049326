"""Certificates central obtains for sites: requests in, issuing jobs, chains out.

A site sends its certificate request (CSR) at sync; it is checked here (well-formed, signed
by its key, a strong key, exactly the name central allows this device) and stored. The
issuing job (``kru central cert run`` or ``daemon``, never a web request: an ACME order
takes seconds to minutes) claims due rows with a conditional UPDATE, so any number of
central processes may run it, obtains the chain and stores it as an assigned file by
sha256, which the site's next sync fetches. A chain is renewed once 2/3 of its lifetime has
passed; failures are retried with a growing wait.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from peewee import fn

from edge_server.base.db import utcnow
from edge_server.base.errors import N_, KruError, ValidationError
from edge_server.base.site_tls import RENEW_AT, check_domain, slug_label
from sync import assigned_protocol as ap

from . import cert_models as cm
from .cert_models import AssignedFile, SiteCertificate
from .models import Device

log = logging.getLogger(__name__)

CLAIM_S = 15 * 60  # a job holds a row this long; a crashed job's row is taken again after
RETRY_BASE_S = 5 * 60
RETRY_MAX_S = 24 * 3600


class CsrRejected(KruError):
    code = ap.E_BAD_CSR
    status = 400


class HttpsNotConfigured(KruError):
    code = ap.E_HTTPS_OFF
    status = 409


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def label_for(device: Device, row: SiteCertificate | None = None) -> str:
    """Return the DNS label of ``device``: the one set for it, else made from its name."""
    if row is not None and row.label:
        return row.label
    return slug_label(device.name) or device.device_id


def name_for(device: Device, domain: str, row: SiteCertificate | None = None) -> str:
    return f"{label_for(device, row)}.{check_domain(domain)}"


def _row(device: Device) -> SiteCertificate:
    row = SiteCertificate.get_or_none(SiteCertificate.device == device.id)
    if row is None:
        SiteCertificate.insert(
            device=device.id, label="", state=cm.NONE
        ).on_conflict_ignore().execute()
        row = SiteCertificate.get(SiteCertificate.device == device.id)
    return row


def set_label(device: Device, label: str) -> SiteCertificate:
    """Set the DNS label of ``device`` (its name becomes ``label.<domain>``).

    Raises:
        ValidationError: not a DNS label, or another device has it.
    """
    label = label.strip().lower()
    if label != slug_label(label) or not label or len(label) > 63:
        raise ValidationError(
            N_("%(label)s is not a DNS label (small Latin letters, digits and '-')"),
            code="invalid_label",
            label=label,
        )
    taken = (
        SiteCertificate.select()
        .where((SiteCertificate.label == label) & (SiteCertificate.device != device.id))
        .exists()
    )
    if taken:
        raise ValidationError(
            N_("Another device has the label %(label)s"), code="label_taken", label=label
        )
    row = _row(device)
    row.label = label
    row.save()
    return row


def check_csr(pem: bytes, name: str) -> x509.CertificateSigningRequest:
    """Return the request in ``pem`` when it may be sent to the CA for ``name``.

    Raises:
        CsrRejected: not a PEM request, a bad signature, a weak key.
        ValidationError: it names something other than exactly ``name`` (403).
    """
    if len(pem) > ap.MAX_CSR_BYTES:
        raise CsrRejected(N_("The certificate request is too large"))
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        raise CsrRejected(N_("The body is not a PEM certificate request")) from exc
    if not csr.is_signature_valid:
        raise CsrRejected(N_("The certificate request's signature is wrong"))
    key = csr.public_key()
    strong = (isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048) or (
        isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in ("secp256r1", "secp384r1")
    )
    if not strong:
        raise CsrRejected(N_("The certificate request's key must be RSA 2048+ or EC P-256/P-384"))
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [n.lower() for n in san.get_values_for_type(x509.DNSName)]
        others = len(list(san)) - len(names)
    except x509.ExtensionNotFound:
        names, others = [], 0
    if names != [name] or others:
        raise ValidationError(
            N_("This device may ask for a certificate for %(name)s only"),
            code=ap.E_NAME_NOT_ALLOWED,
            status=403,
            name=name,
        )
    return csr


def accept_csr(device: Device, pem: bytes, domain: str) -> SiteCertificate:
    """Store the site's certificate request; a new one waits for the issuing job.

    Raises:
        HttpsNotConfigured: central has no ``central.https_domain``.
        CsrRejected / ValidationError: see ``check_csr``.
    """
    if not domain:
        raise HttpsNotConfigured(N_("This central server does not issue site certificates"))
    row = _row(device)
    name = name_for(device, domain, row)
    check_csr(pem, name)
    digest = hashlib.sha256(pem).hexdigest()
    if row.csr_sha256 == digest and row.name == name:
        return row
    SiteCertificate.update(
        name=name,
        csr_pem=pem.decode(),
        csr_sha256=digest,
        csr_received_at=utcnow(),
        state=cm.PENDING,
        attempts=0,
        next_attempt_at=None,
        last_error=None,
        claimed_until=None,
    ).where(SiteCertificate.id == row.id).execute()
    log.info("certificate request from %s for %s", device.device_id, name)
    return SiteCertificate.get_by_id(row.id)


def renew_after(row: SiteCertificate) -> datetime | None:
    start, end = _parse_iso(row.not_before), _parse_iso(row.not_after)
    if start is None or end is None:
        return None
    return start + (end - start) * RENEW_AT


def is_due(row: SiteCertificate, now: datetime) -> bool:
    """Return whether the issuing job should work on ``row`` at ``now``."""
    stamp = now.timestamp()
    if not row.csr_pem:
        return False
    if row.state == cm.ISSUING:
        return (row.claimed_until or 0) < stamp
    if row.state in (cm.PENDING, cm.FAILED):
        return (row.next_attempt_at or 0) <= stamp
    if row.state == cm.ISSUED:
        renew = renew_after(row)
        return bool(row.force_renewal) or (renew is not None and now >= renew)
    return False


def claim(row: SiteCertificate, now: datetime) -> bool:
    """Take ``row`` for this job unless another took it first (one conditional UPDATE)."""
    stamp = now.timestamp()
    query = SiteCertificate.update(state=cm.ISSUING, claimed_until=stamp + CLAIM_S).where(
        (SiteCertificate.id == row.id)
        & (SiteCertificate.state == row.state)
        & (fn.COALESCE(SiteCertificate.claimed_until, 0) == (row.claimed_until or 0))
    )
    return query.execute() == 1


def store_file(kind: str, body: bytes) -> str:
    """Keep ``body`` as an assigned file; return its sha256."""
    digest = hashlib.sha256(body).hexdigest()
    AssignedFile.insert(
        sha256=digest, kind=kind, size=len(body), body=body, created_at=utcnow()
    ).on_conflict_ignore().execute()
    return digest


def record_issued(row: SiteCertificate, chain_pem: str, now: datetime) -> SiteCertificate:
    leaf = x509.load_pem_x509_certificates(chain_pem.encode())[0]
    digest = store_file(ap.KIND_CERTIFICATE, chain_pem.encode())
    SiteCertificate.update(
        state=cm.ISSUED,
        chain_sha256=digest,
        not_before=_iso(leaf.not_valid_before_utc),
        not_after=_iso(leaf.not_valid_after_utc),
        issued_at=_iso(now),
        attempts=0,
        next_attempt_at=None,
        last_error=None,
        claimed_until=None,
        force_renewal=False,
    ).where(SiteCertificate.id == row.id).execute()
    return SiteCertificate.get_by_id(row.id)


def record_failure(row: SiteCertificate, problem: str, now: datetime) -> SiteCertificate:
    attempts = row.attempts + 1
    wait = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (attempts - 1))
    # An issued chain stays served while its renewal fails.
    state = cm.ISSUED if row.chain_sha256 else cm.FAILED
    SiteCertificate.update(
        state=state,
        attempts=attempts,
        next_attempt_at=now.timestamp() + wait,
        last_error=problem[:1000],
        claimed_until=None,
    ).where(SiteCertificate.id == row.id).execute()
    return SiteCertificate.get_by_id(row.id)


@dataclass(frozen=True)
class Outcome:
    device_id: str
    name: str
    ok: bool
    message: str


def due_rows(now: datetime, device_id: str | None = None) -> list[SiteCertificate]:
    query = SiteCertificate.select(SiteCertificate, Device).join(Device)
    if device_id:
        query = query.where(Device.device_id == device_id)
    rows = [r for r in query if is_due(r, now)]
    # A failed renewal of an issued chain waits for its retry time.
    return [
        r
        for r in rows
        if not (r.state == cm.ISSUED and r.next_attempt_at and r.next_attempt_at > now.timestamp())
    ]


def force(device: Device) -> SiteCertificate:
    """Make the next issuing pass obtain a new chain for ``device`` now.

    Raises:
        ValidationError: the site sent no certificate request yet.
    """
    row = _row(device)
    if not row.csr_pem:
        raise ValidationError(
            N_("Device %(id)s has sent no certificate request yet"),
            code="no_request",
            id=device.device_id,
        )
    SiteCertificate.update(
        force_renewal=True,
        next_attempt_at=None,
        state=cm.PENDING if row.state == cm.FAILED else row.state,
    ).where(SiteCertificate.id == row.id).execute()
    return SiteCertificate.get_by_id(row.id)


def run_pass(
    issue: Any, now: datetime | None = None, device_id: str | None = None
) -> list[Outcome]:
    """Issue or renew every due certificate with ``issue(csr_pem: bytes) -> chain PEM``.

    One failing site never stops the others; its row records the error and a retry time.
    """
    outcomes = []
    for row in due_rows(now or datetime.now(UTC), device_id):
        moment = now or datetime.now(UTC)
        if not claim(row, moment):
            continue
        device = row.device
        began = time.monotonic()
        try:
            chain = issue((row.csr_pem or "").encode())
            check_issued(chain, row.name)
        except KruError as exc:
            record_failure(row, exc.message, moment)
            log.warning("certificate for %s failed: %s", row.name, exc.message)
            outcomes.append(Outcome(device.device_id, row.name, False, exc.message))
            continue
        record_issued(row, chain, now or datetime.now(UTC))
        message = f"issued in {time.monotonic() - began:.1f}s"
        log.info("certificate for %s %s", row.name, message)
        outcomes.append(Outcome(device.device_id, row.name, True, message))
    return outcomes


def check_issued(chain: str, name: str) -> None:
    """Raises: KruError when the CA's answer is not a chain for ``name``."""
    try:
        leaf = x509.load_pem_x509_certificates(chain.encode())[0]
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise KruError(N_("The CA sent something that is not a certificate chain")) from exc
    if name not in [n.lower() for n in san.get_values_for_type(x509.DNSName)]:
        raise KruError(N_("The CA's certificate is not for %(name)s"), name=name)


def manifest_items(device: Device, domain: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return (items, https section) of the manifest central sends ``device``."""
    row = SiteCertificate.get_or_none(SiteCertificate.device == device.id)
    https: dict[str, Any] = {"enabled": bool(domain)}
    if not domain:
        return [], https
    https.update(
        name=name_for(device, domain, row),
        label=label_for(device, row),
        csr_sha256=row.csr_sha256 if row else None,
        state=row.state if row else cm.NONE,
        last_error=row.last_error if row else None,
    )
    items = []
    if row is not None and row.chain_sha256:
        size = (
            AssignedFile.select(AssignedFile.size)
            .where(AssignedFile.sha256 == row.chain_sha256)
            .scalar()
        )
        items.append(
            {
                "kind": ap.KIND_CERTIFICATE,
                "id": row.name,
                "sha256": row.chain_sha256,
                "size": size,
                "not_before": row.not_before,
                "not_after": row.not_after,
                "path": ap.file_path(row.chain_sha256),
            }
        )
    return items, https


def file_for(device: Device, sha256: str) -> AssignedFile | None:
    """Return assigned file ``sha256`` when it is assigned to ``device``, else None."""
    row = SiteCertificate.get_or_none(SiteCertificate.device == device.id)
    if row is None or row.chain_sha256 != sha256:
        return None
    return AssignedFile.get_or_none(AssignedFile.sha256 == sha256)


def listing(now: datetime | None = None) -> list[dict[str, Any]]:
    """Return every device's certificate state, for ``kru central cert list``."""
    now = now or datetime.now(UTC)
    out = []
    rows = {r.device.id: r for r in SiteCertificate.select(SiteCertificate, Device).join(Device)}
    for device in Device.select().order_by(Device.device_id):
        row = rows.get(device.id)
        end = _parse_iso(row.not_after) if row else None
        out.append(
            {
                "device_id": device.device_id,
                "name": row.name if row else "",
                "state": row.state if row else cm.NONE,
                "not_after": row.not_after if row else None,
                "days_left": (end - now).days if end else None,
                "renew_after": _iso(due) if row and (due := renew_after(row)) else None,
                "last_error": row.last_error if row else None,
            }
        )
    return out
