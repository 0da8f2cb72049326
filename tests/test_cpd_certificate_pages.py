"""Certificate pages on the site (issue 16, items 7-8): the learner's list, the printable page
and the Khmer/English PDF, revocation by role, the public verify page and JSON."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from edge_server.cpd.models import Certificate
from tests.conftest import PASSWORD, assert_api_error, form_csrf
from tests.cpd_support import LEARNER_KM, TITLE_EN, finishing_events, make_certificate_course
from tests.learning_catalog import post_events


@pytest.fixture
def issued(app, client, login_as, make_user):
    learner = login_as(user=make_user(display_name=LEARNER_KM))
    make_certificate_course(hours=6)
    post_events(client, finishing_events())
    return learner, Certificate.get()


def test_the_learner_sees_their_certificate_on_the_progress_page(client, issued):
    _learner, cert = issued
    for page in ("/learn/progress",):
        html = client.get(page).get_data(as_text=True)
        assert 'id="my-certificates"' in html and f"/certificates/{cert.code}.pdf" in html


def test_the_printable_page_shows_name_course_hours_and_code(client, issued):
    _learner, cert = issued
    html = client.get(f"/certificates/{cert.code}").get_data(as_text=True)
    assert LEARNER_KM in html and TITLE_EN in html and cert.code in html
    assert 'id="revoke"' not in html  # a learner cannot revoke


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is in dev.sh")
def test_the_pdf_holds_the_khmer_name_course_and_code(client, issued, tmp_path):
    _learner, cert = issued
    response = client.get(f"/certificates/{cert.code}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    path = tmp_path / "c.pdf"
    path.write_bytes(response.data)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert LEARNER_KM in text and cert.code in text and TITLE_EN in text
    # pdftotext splits Khmer clusters whose vowel is drawn before the consonant; the
    # shaping itself is checked by eye in docs/screenshots/pdf/certificate.png.
    compact = "".join(text.split())
    assert "ការបង្រៀ" in compact and "នអានជាក្រ" in compact  # the Khmer course title
    assert "6 CPD hours" in text and "៦ម៉ោ" in compact


def test_another_learner_may_not_open_the_certificate(client, issued, login_as):
    _learner, cert = issued
    client.delete("/api/v1/session")
    login_as("learner")
    assert client.get(f"/certificates/{cert.code}").status_code == 403
    assert client.get(f"/certificates/{cert.code}.pdf").status_code == 403


def test_verify_is_public_and_shows_valid(app, issued):
    _learner, cert = issued
    anonymous = app.test_client()
    html = anonymous.get(f"/verify/{cert.code.lower().replace('-', ' ')}").get_data(as_text=True)
    assert "Valid certificate" in html or "វិញ្ញាបនបត្រត្រឹមត្រូវ" in html
    assert LEARNER_KM in html and TITLE_EN in html and "Kru" in html
    body = anonymous.get(f"/api/v1/certificates/{cert.code}").get_json()
    assert body["valid"] and body["status"] == "valid" and body["name"] == LEARNER_KM
    assert body["hours"] == 6 and body["signature_valid"]


def test_verify_of_an_unknown_or_malformed_code(app, issued):
    anonymous = app.test_client()
    page = anonymous.get("/verify/AAAAA-BBBBB")
    assert page.status_code == 404 and "AAAAA-BBBBB" in page.get_data(as_text=True)
    assert_api_error(
        anonymous.get("/api/v1/certificates/AAAAA-BBBBB"), 404, "certificate_not_found"
    )
    assert_api_error(anonymous.get("/api/v1/certificates/nonsense"), 400, "invalid_code")


def test_a_record_changed_in_the_site_database_fails_verification(app, issued):
    _learner, cert = issued
    record = json.loads(cert.record)
    record["hours"] = 60
    Certificate.update(record=json.dumps(record)).execute()
    body = app.test_client().get(f"/api/v1/certificates/{cert.code}").get_json()
    assert body["signature_valid"] is False and body["valid"] is False
    html = app.test_client().get(f"/verify/{cert.code}").get_data(as_text=True)
    assert "cannot be verified" in html or "មិនអាចផ្ទៀងផ្ទាត់" in html


@pytest.mark.parametrize(
    ("role", "in_cohort", "revoked"),
    [("instructor", True, True), ("instructor", False, False), ("admin", False, True)],
)
def test_revoking_from_the_page(
    app, issued, make_user, make_cohort, login_as, role, in_cohort, revoked
):
    learner, cert = issued
    staff = app.test_client()
    actor = make_user(role=role)
    make_cohort(learners=[learner], instructors=[actor] if in_cohort else [])
    from tests.conftest import csrf_token

    token = csrf_token(staff)
    staff.post(
        "/api/v1/session",
        json={"username": actor.username, "password": PASSWORD},
        headers={"X-CSRFToken": token},
    )
    page = staff.get(f"/certificates/{cert.code}")
    if not revoked:
        assert page.status_code == 403
        return
    response = staff.post(
        f"/certificates/{cert.code}/revoke",
        data={"csrf_token": form_csrf(page.get_data(as_text=True)), "reason": "ឈ្មោះខុស"},
    )
    assert response.status_code == 302
    assert Certificate.get().revoked_reason == "ឈ្មោះខុស"
    body = app.test_client().get(f"/api/v1/certificates/{cert.code}").get_json()
    assert body["status"] == "revoked" and body["valid"] is False
