"""Certificates and CPD hours (issue 16, items 7-8): issued by the site when a learner meets
a course's completion rule, signed with the site's Ed25519 key, revocable, synced as events.

The site decides: when a learner's last required item of a course becomes done, or a mark
of attendance completes the pack's attendance share, and the course's pack awards a
certificate, the site writes a ``certified`` event whose id is derived from the learner and
the course (uuid5), so issuing twice never makes a second certificate. The event's context
holds the signed record (``certificate_record``); the ``certificates`` table is its summary.
A revocation is a ``revoked`` event with a reason, final for that learner and course.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync import certificate_record as rec

from .. import accounts
from ..accounts.models import User
from ..base.datahome import DataHome
from ..base.db import db
from ..base.errors import N_, KruError, NotFound, PermissionDenied, ValidationError
from ..learning import events
from ..learning.events import boot_id, now_ts
from ..learning.models import DONE, Event
from . import rules
from .attendance import zone
from .models import Certificate

log = logging.getLogger(__name__)

CERTIFIED = "certified"
REVOKED = "revoked"
OBJECT_PREFIX = "urn:kru:certificate:"
CERTIFICATE_NAMESPACE = uuid.UUID("9d6f4c1e-2b7a-4c55-8e0f-6b7275000016")


class CertificateError(ValidationError):
    code = "invalid_certificate"


class CertificateNotFound(NotFound):
    code = "certificate_not_found"


@dataclass(frozen=True)
class Issuer:
    """What the site puts on its certificates and signs them with."""

    home: DataHome
    site_name: str
    time_zone: str
    device_id: str = ""

    def device(self) -> str:
        if self.device_id:
            return self.device_id
        from sync.edge.identity import load_identity  # the sync feature, if present

        return load_identity(self.home).device_id


_issuer: Issuer | None = None


def configure(settings: Any) -> None:
    """Set the issuer from the site's settings (the app factory and the CLI call this)."""
    global _issuer
    _issuer = Issuer(
        DataHome(Path(settings.data_dir)), settings["site_name"], settings["time_zone"]
    )


def issuer() -> Issuer | None:
    return _issuer


def certificate_event_id(user: User, course_key: str) -> str:
    """Return the id of ``user``'s certificate event for ``course_key`` (uuid5)."""
    return str(uuid.uuid5(CERTIFICATE_NAMESPACE, f"{user.uid}:{course_key}"))


def revocation_event_id(certificate_event: str) -> str:
    return str(uuid.uuid5(CERTIFICATE_NAMESPACE, f"revoked:{certificate_event}"))


def items_done(user_id: int, course_key: str) -> bool:
    """Return whether every required item of the course is done (all items when none is)."""
    row = db.execute_sql(
        "SELECT COUNT(*), SUM(CASE WHEN p.status IN (?, ?) THEN 1 ELSE 0 END), "
        "SUM(i.required), SUM(CASE WHEN i.required AND p.status IN (?, ?) THEN 1 ELSE 0 END) "
        "FROM items i JOIN courses c ON c.id = i.course_id "
        "LEFT JOIN progress p ON p.item = i.key AND p.user_id = ? WHERE c.key = ?",
        (*DONE, *DONE, user_id, course_key),
    ).fetchone()
    total, done, required, required_done = (int(v or 0) for v in row)
    if required:
        return required_done == required
    return total > 0 and done == total


def _course_titles(course_key: str, rule: rules.CourseRule) -> dict[str, str]:
    row = db.execute_sql(
        "SELECT title_km, title_en FROM courses WHERE key = ?", (course_key,)
    ).fetchone()
    km, en = row if row else ("", "")
    title = rule.certificate_title or {}
    return {"key": course_key, "km": title.get("km") or km or en, "en": title.get("en") or en or km}


def check(user: User, course_key: str, *, by: Issuer | None = None) -> Certificate | None:
    """Issue ``user``'s certificate for ``course_key`` when the rule is met and none exists.

    Returns the certificate (new or already issued), or None when the course awards none,
    the rule is not met, or no issuer is configured.
    """
    found = Certificate.get_or_none(
        (Certificate.user == user.id) & (Certificate.course == course_key)
    )
    if found is not None:
        return found
    rule = rules.course_rule(course_key)
    if not rule.certificate_hours or user.role != "learner":
        return None
    if not rules.rule_status(user, course_key, items_done=items_done(user.id, course_key)).met:
        return None
    chosen = by or _issuer
    if chosen is None:
        log.warning("no certificate issuer configured; %s not issued", course_key)
        return None
    return _issue(user, course_key, rule, chosen)


def _issue(user: User, course_key: str, rule: rules.CourseRule, by: Issuer) -> Certificate:
    eid = certificate_event_id(user, course_key)
    code = rec.new_code()
    while Certificate.select().where(Certificate.code == code).exists():
        code = rec.new_code()
    ts = now_ts()
    issued = datetime.now(UTC).astimezone(zone(by.time_zone)).date().isoformat()
    record = {
        "v": rec.RECORD_VERSION,
        "id": eid,
        "code": code,
        "learner": {"uid": user.uid, "name": user.display_name or user.username},
        "course": _course_titles(course_key, rule),
        "hours": rule.certificate_hours,
        "issued": issued,
        "site": {"name": by.site_name, "device": by.device()},
    }
    from ..base.site_signing import public_key_b64, signing_key  # cryptography

    signature = rec.sign(signing_key(by.home), record)
    context = {"record": record, "signature": signature, "key": public_key_b64(by.home)}
    with db.atomic():
        Event.insert(
            id=eid,
            user=user.id,
            verb=CERTIFIED,
            object=OBJECT_PREFIX + code,
            result=json.dumps({"response": rule.certificate_hours}),
            context=json.dumps(context, ensure_ascii=False),
            client_ts=ts,
            server_ts=ts,
            boot_id=boot_id(),
        ).on_conflict_ignore().execute()
        _summarise(user.id, eid, context, ts)
    log.info("issued certificate %s to %s for %s", code, user.username, course_key)
    return Certificate.get(Certificate.event_id == eid)


def _summarise(user_id: int, event_id: str, context: dict[str, Any], ts: str) -> None:
    record = context["record"]
    Certificate.insert(
        event_id=event_id,
        code=record["code"],
        user=user_id,
        course=record["course"]["key"],
        record=rec.canonical(record).decode("utf-8"),
        signature=context["signature"],
        issued_at=ts,
    ).on_conflict_ignore().execute()


def after_progress(user: User, summaries: Iterable[Any], server_ts: str) -> None:
    """Check the courses of items that became done at ``server_ts`` (event ingest calls this)."""
    keys = sorted({s.item for s in summaries if s.status in DONE and s.done_ts == server_ts})
    if not keys:
        return
    marks = ",".join("?" * len(keys))
    courses = [
        ck
        for (ck,) in db.execute_sql(
            "SELECT DISTINCT c.key FROM items i JOIN courses c ON c.id = i.course_id "  # noqa: S608 - placeholders only
            f"WHERE i.key IN ({marks})",
            keys,
        )
    ]
    for course_key in courses:
        try:
            check(user, course_key)
        except (KruError, OSError):  # the learning events must be stored all the same
            log.exception("certificate of %s for %s not issued", user.username, course_key)


events.on_progress(after_progress)


@dataclass
class CertificateView:
    certificate: Certificate
    record: dict[str, Any]

    @property
    def code(self) -> str:
        return str(self.certificate.code)

    @property
    def revoked(self) -> bool:
        return self.certificate.revoked_at is not None

    def title(self, lang: str) -> str:
        course = self.record["course"]
        return str(course.get(lang) or course.get("en") or course.get("km") or "")

    def json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "valid": not self.revoked,
            "status": "revoked" if self.revoked else "valid",
            "name": self.record["learner"]["name"],
            "course": {k: self.record["course"][k] for k in ("key", "km", "en")},
            "hours": self.record["hours"],
            "issued": self.record["issued"],
            "site": self.record["site"]["name"],
            "device": self.record["site"]["device"],
            "revoked_at": self.certificate.revoked_at,
            "revoked_reason": self.certificate.revoked_reason or None,
            "record": self.record,
            "signature": self.certificate.signature,
        }


def _view(cert: Certificate) -> CertificateView:
    return CertificateView(cert, json.loads(cert.record))


def signature_holds(view: CertificateView) -> bool:
    """Return whether the stored record still matches this site's signature."""
    chosen = _issuer
    if chosen is None:
        return False
    from ..base.site_signing import public_key_b64  # cryptography, when needed

    return rec.verify(public_key_b64(chosen.home), view.record, view.certificate.signature)


def learner_certificates(user: User) -> list[CertificateView]:
    """Return ``user``'s certificates, newest first."""
    rows = Certificate.select().where(Certificate.user == user.id).order_by(Certificate.id.desc())
    return [_view(c) for c in rows]


def by_code(text: str) -> CertificateView:
    """Return the certificate whose code is ``text`` (typing slips forgiven).

    Raises:
        CertificateNotFound: no certificate of this site has this code.
    """
    code = rec.normalize_code(text)
    found = Certificate.get_or_none(Certificate.code == code) if code else None
    if found is None:
        raise CertificateNotFound(N_("No certificate of this site has this code."))
    return _view(found)


def can_revoke(actor: User, cert: Certificate) -> bool:
    """Admins, and instructors of a cohort the learner is in, may revoke."""
    if actor.role == "learner":
        return False
    return accounts.can_see_learner(actor, cert.user_id)


def revoke(cert: Certificate, *, by: User, reason: str) -> bool:
    """Revoke ``cert`` with ``reason``; return False when it was revoked already.

    Raises:
        PermissionDenied: ``by`` is neither an admin nor an instructor of the learner's cohort.
        CertificateError: no reason given.
    """
    if not can_revoke(by, cert):
        raise PermissionDenied(N_("Only an admin or an instructor of the learner may revoke."))
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise CertificateError(N_("Give a reason of at most 500 characters."), code="no_reason")
    if cert.revoked_at is not None:
        return False
    ts = now_ts()
    eid = revocation_event_id(cert.event_id)
    context = {"certificate": cert.event_id, "code": cert.code, "reason": reason, "by": by.uid}
    with db.atomic():
        Event.insert(
            id=eid,
            user=cert.user_id,
            verb=REVOKED,
            object=OBJECT_PREFIX + cert.code,
            context=json.dumps(context, ensure_ascii=False),
            client_ts=ts,
            server_ts=ts,
            boot_id=boot_id(),
        ).on_conflict_ignore().execute()
        Certificate.update(revoked_at=ts, revoked_reason=reason, revoked_by=by.id).where(
            Certificate.id == cert.id
        ).execute()
    log.info("certificate %s revoked by %s", cert.code, by.username)
    return True


def rebuild_and_issue(*, check_only: bool = False, by: Issuer | None = None) -> dict[str, int]:
    """Restore the certificates table from the log, then issue every certificate now due.

    With ``check_only`` nothing is written; the counts say what would change.
    """
    counts = {"restored": 0, "issued": 0}
    for eid, user_id, verb, context, ts in db.execute_sql(
        "SELECT id, user_id, verb, context, server_ts FROM events "
        "WHERE verb IN (?, ?) AND object LIKE ? ORDER BY seq",
        (CERTIFIED, REVOKED, OBJECT_PREFIX + "%"),
    ).fetchall():
        ctx = json.loads(context or "{}")
        if verb == CERTIFIED:
            if not Certificate.select().where(Certificate.event_id == eid).exists():
                counts["restored"] += 1
                if not check_only:
                    _summarise(user_id, eid, ctx, ts)
        elif not check_only:
            by_uid = User.get_or_none(User.uid == ctx.get("by"))
            Certificate.update(
                revoked_at=ts, revoked_reason=ctx.get("reason", ""), revoked_by=by_uid
            ).where(
                (Certificate.event_id == ctx.get("certificate")) & Certificate.revoked_at.is_null()
            ).execute()
    courses = [
        ck
        for (ck,) in db.execute_sql("SELECT key FROM courses ORDER BY key")
        if rules.course_rule(ck).certificate_hours
    ]
    learners = list(User.select().where((User.role == "learner") & User.active))
    for course_key in courses:
        for learner in learners:
            if (
                Certificate.select()
                .where((Certificate.user == learner.id) & (Certificate.course == course_key))
                .exists()
            ):
                continue
            if not rules.rule_status(
                learner, course_key, items_done=items_done(learner.id, course_key)
            ).met:
                continue
            counts["issued"] += 1
            if not check_only:
                check(learner, course_key, by=by)
    return counts
