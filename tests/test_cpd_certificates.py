"""Certificates on the site (issue 16, item 7): issued once when the completion rule is met,
signed with the site's key, revocable by the right people, rebuilt from the log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from edge_server.base.errors import PermissionDenied
from edge_server.base.site_signing import public_key_b64
from edge_server.cpd import attendance, certificates
from edge_server.cpd.models import Certificate
from edge_server.learning.models import Event
from sync import certificate_record as rec
from tests.cpd_support import (
    LEARNER_KM,
    TITLE_EN,
    TITLE_KM,
    finishing_events,
    make_certificate_course,
)
from tests.learning_catalog import LESSON, VIDEO, ev, post_events

TZ = attendance.zone("Asia/Phnom_Penh")


@pytest.fixture
def learner(app, login_as, make_user):
    return login_as(user=make_user(display_name=LEARNER_KM))


def _certified() -> list[Event]:
    return list(Event.select().where(Event.verb == "certified"))


def test_finishing_the_course_issues_one_signed_certificate(app, client, learner, data_dir):
    course = make_certificate_course(hours=6)
    post_events(client, finishing_events()[:2])
    assert Certificate.select().count() == 0  # the quiz is still to pass
    assert post_events(client, finishing_events()[2:]).status_code == 200
    cert = Certificate.get()
    record = json.loads(cert.record)
    assert record["learner"] == {"uid": learner.uid, "name": LEARNER_KM}
    assert record["course"] == {"key": course, "km": TITLE_KM, "en": TITLE_EN}
    assert record["hours"] == 6
    assert record["issued"] == datetime.now(TZ).date().isoformat()
    assert record["site"]["name"] == "Kru" and record["site"]["device"].startswith("site-")
    assert rec.normalize_code(cert.code) == cert.code and len(cert.code) == 11
    key = public_key_b64(certificates.issuer().home)
    assert rec.verify(key, record, cert.signature)
    assert cert.record.encode() == rec.canonical(record)
    events = _certified()
    assert len(events) == 1 and events[0].id == certificates.certificate_event_id(learner, course)
    assert events[0].object == f"urn:kru:certificate:{cert.code}"


def test_completing_again_never_issues_a_second_certificate(app, client, learner):
    make_certificate_course()
    post_events(client, finishing_events())
    code = Certificate.get().code
    post_events(client, [ev("completed", LESSON), ev("completed", VIDEO)])
    Certificate.delete().execute()  # even with the summary gone, the log keeps one event
    certificates.rebuild_and_issue()
    assert [c.code for c in Certificate.select()] == [code]
    assert len(_certified()) == 1


def test_a_course_without_a_certificate_issues_none(app, client, learner):
    make_certificate_course()
    from content_packs.models import Pack

    Pack.update(manifest="{}").execute()
    post_events(client, finishing_events())
    assert Certificate.select().count() == 0 and _certified() == []


def test_attendance_share_holds_the_certificate_back_until_met(app, client, learner, make_cohort):
    course = make_certificate_course(attendance=0.5)
    cohort = make_cohort(learners=[learner])
    sessions = [
        attendance.schedule(
            cohort,
            title=f"S{i}",
            local_start=(datetime.now(TZ) - timedelta(days=3 - i)).strftime("%Y-%m-%dT%H:%M"),
            tz=TZ,
            course=course,
        )
        for i in range(2)
    ]
    attendance.mark(sessions[0], learner, "absent", by=None)
    attendance.mark(sessions[1], learner, "absent", by=None)
    post_events(client, finishing_events())
    assert Certificate.select().count() == 0  # items done, 0 % attended
    attendance.mark(sessions[1], learner, "present", by=None)  # 50 %: the mark issues it
    assert Certificate.select().count() == 1


def test_check_reports_without_issuing_and_issue_derives(app, client, learner, runner):
    make_certificate_course()
    from content_packs.models import Pack

    manifest = Pack.get().manifest
    Pack.update(manifest="{}").execute()
    post_events(client, finishing_events())
    Pack.update(manifest=manifest).execute()  # the pack gains a certificate later
    checked = runner("cpd", "certificates", "issue", "--check")
    assert checked.exit_code == 1 and "1 to issue" in checked.output
    assert Certificate.select().count() == 0
    done = runner("cpd", "certificates", "issue")
    assert done.exit_code == 0 and "issued 1" in done.output
    from edge_server.base.db import db

    db.connect(reuse_if_open=True)
    assert Certificate.select().count() == 1
    assert runner("cpd", "certificates", "issue", "--check").exit_code == 0


@pytest.mark.parametrize(
    ("role", "in_cohort", "allowed"),
    [
        ("admin", False, True),
        ("instructor", True, True),
        ("instructor", False, False),
        ("learner", True, False),
    ],
)
def test_who_may_revoke(app, client, learner, make_user, make_cohort, role, in_cohort, allowed):
    make_certificate_course()
    post_events(client, finishing_events())
    actor = make_user(role=role)
    make_cohort(learners=[learner], instructors=[actor] if in_cohort else [])
    cert = Certificate.get()
    if not allowed:
        with pytest.raises(PermissionDenied):
            certificates.revoke(cert, by=actor, reason="copied the final quiz")
        assert Certificate.get().revoked_at is None
        return
    assert certificates.revoke(cert, by=actor, reason="copied the final quiz")
    cert = Certificate.get()
    assert cert.revoked_at and cert.revoked_reason == "copied the final quiz"
    revoked = Event.get(Event.verb == "revoked")
    assert revoked.object == f"urn:kru:certificate:{cert.code}"
    assert not certificates.revoke(cert, by=actor, reason="again")  # once
    assert Event.select().where(Event.verb == "revoked").count() == 1


def test_revoking_needs_a_reason(app, client, learner, make_user):
    make_certificate_course()
    post_events(client, finishing_events())
    with pytest.raises(certificates.CertificateError):
        certificates.revoke(Certificate.get(), by=make_user(role="admin"), reason="  ")
    assert Certificate.get().revoked_at is None


def test_rebuild_restores_certificates_and_revocations_from_the_log(
    app, client, learner, make_user
):
    make_certificate_course()
    post_events(client, finishing_events())
    certificates.revoke(Certificate.get(), by=make_user(role="admin"), reason="error")
    before = [(c.code, c.record, c.signature, c.revoked_reason) for c in Certificate.select()]
    Certificate.delete().execute()
    assert certificates.rebuild_and_issue() == {"restored": 1, "issued": 0}
    after = [(c.code, c.record, c.signature, c.revoked_reason) for c in Certificate.select()]
    assert after == before


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("abcde-fghjk", "ABCDE-FGHJK"),
        ("ABCDE FGHJK", "ABCDE-FGHJK"),
        ("0OIL1-22222", "00111-22222"),
    ],
)
def test_codes_forgive_case_spaces_and_look_alike_letters(typed, expected):
    assert rec.normalize_code(typed) == expected


@pytest.mark.parametrize("typed", ["", "ABCDE", "ABCDE-FGHJKM", "ABCDE-FGHJU", "<script>"])
def test_malformed_codes_are_none(typed):
    assert rec.normalize_code(typed) is None


def test_a_changed_record_or_another_key_fails_verification(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    record = {"v": 1, "learner": {"name": "ក"}, "hours": 6}
    signature = rec.sign(key, record)
    import base64

    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public = base64.b64encode(raw).decode()
    assert rec.verify(public, record, signature)
    assert not rec.verify(public, {**record, "hours": 60}, signature)
    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    assert not rec.verify(base64.b64encode(other).decode(), record, signature)
    assert not rec.verify("not base64!", record, signature)
