"""A certificate issued on a site verifies on a real central server after a real sync, and
fails when altered in central's database (issue 16, items 8-9); the site's key is registered
at sync and a different key is held for an admin."""

from __future__ import annotations

import csv
import io
import sqlite3
from contextlib import closing

import requests

from tests.cpd_support import LEARNER_KM, TITLE_EN, make_certificate_course
from tests.sync_support import make_site, run_agent


def _issue(site) -> str:
    from edge_server import accounts
    from edge_server.cpd import certificates
    from edge_server.learning.models import Progress

    db = site.open()
    try:
        learner = accounts.create_user("chantha", "lotus-pond-7", display_name=LEARNER_KM)
        course = make_certificate_course(hours=12)
        for key in ("teach101/welcome", "teach101/clip", "teach101/check"):
            Progress.create(
                user_id=learner.id,
                item=key,
                status="completed",
                score=None,
                completion=1.0,
                time_s=60,
                position_s=None,
                attempts=1,
                first_ts="2026-03-02T01:00:00+00:00",
                last_ts="2026-03-02T01:00:00+00:00",
                done_ts="2026-03-02T01:00:00+00:00",
            )
        issuer = certificates.Issuer(site.home, site.settings["site_name"], "Asia/Phnom_Penh")
        cert = certificates.check(learner, course, by=issuer)
        assert cert is not None
        return cert.code
    finally:
        db.close()


def _says(page, en: str, km: str) -> bool:
    text = page.content.decode("utf-8")
    return en in text or km in text


def _signed_in(central, role: str) -> requests.Session:
    central.cli(
        "user", "add", "--username", role, "--password", "mekong-river-2026", "--role", role
    )
    session = requests.Session()
    token = session.get(f"{central.url}/api/v1/session", timeout=10).json()["csrf_token"]
    response = session.post(
        f"{central.url}/api/v1/session",
        json={"username": role, "password": "mekong-river-2026"},
        headers={"X-CSRFToken": token},
        timeout=10,
    )
    assert response.status_code == 200
    return session


def _central_db(central):
    return closing(sqlite3.connect(central.data_dir / "central.sqlite3"))


def test_certificate_verifies_on_central_after_sync_and_fails_when_altered(tmp_path, central):
    site = make_site(tmp_path, "tec-cert")
    device_id = central.provision(site)
    code = _issue(site)
    before = requests.get(f"{central.url}/verify/{code}", timeout=10)
    assert before.status_code == 404 and _says(before, "not known here yet", "មិនទាន់ស្គាល់")
    assert requests.get(f"{central.url}/api/v1/certificates/{code}", timeout=10).status_code == 404

    assert run_agent(site, "").returncode == 0
    body = requests.get(f"{central.url}/api/v1/certificates/{code}", timeout=10).json()
    assert body["valid"] and body["status"] == "valid" and body["signature_valid"]
    assert body["name"] == LEARNER_KM and body["course"]["en"] == TITLE_EN
    assert body["hours"] == 12 and body["site"] == "tec-cert" and body["device"] == device_id
    page = requests.get(f"{central.url}/verify/{code.lower()}", timeout=10)
    assert page.status_code == 200 and LEARNER_KM in page.content.decode("utf-8")
    assert _says(page, "Valid certificate", "វិញ្ញាបនបត្រត្រឹមត្រូវ")

    anonymous = requests.get(f"{central.url}/cpd.csv", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    viewer = _signed_in(central, "viewer")
    record_csv = viewer.get(f"{central.url}/cpd.csv", params={"q": "ចាន់"}, timeout=10)
    rows = list(csv.reader(io.StringIO(record_csv.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["name", "username", "site"]
    assert rows[1][:4] == [LEARNER_KM, "chantha", "tec-cert", device_id]
    assert rows[1][7:] == ["12.0", body["issued"], code, "valid"]
    page = viewer.get(f"{central.url}/cpd", params={"q": "nobody"}, timeout=10)
    assert page.status_code == 200 and code not in page.content.decode("utf-8")

    with _central_db(central) as con, con:
        key = con.execute("SELECT signing_key FROM devices").fetchone()[0]
        record = con.execute("SELECT record FROM central_certificates").fetchone()[0]
        con.execute(
            "UPDATE central_certificates SET record = ?",
            (record.replace('"hours":12', '"hours":120'),),
        )
    assert key
    altered = requests.get(f"{central.url}/api/v1/certificates/{code}", timeout=10).json()
    assert altered["valid"] is False and altered["status"] == "unverifiable"
    page = requests.get(f"{central.url}/verify/{code}", timeout=10)
    assert _says(page, "cannot be verified", "មិនអាចផ្ទៀងផ្ទាត់")
    rows = list(csv.reader(io.StringIO(viewer.get(f"{central.url}/cpd.csv", timeout=10).text)))
    assert (
        rows[1][7] == "0.0" and rows[1][10] == "unverifiable"
    )  # an altered record counts no hours


def test_revocation_syncs_and_a_new_site_key_is_held_for_the_admin(tmp_path, central):
    from edge_server.base.site_signing import KEY_FILE
    from edge_server.cpd import certificates
    from edge_server.cpd.models import Certificate

    site = make_site(tmp_path, "tec-rev")
    device_id = central.provision(site)
    code = _issue(site)
    assert run_agent(site, "").returncode == 0
    db = site.open()
    try:
        from edge_server import accounts

        admin = accounts.create_user("boss", "lotus-pond-7", role="admin")
        certificates.revoke(Certificate.get(Certificate.code == code), by=admin, reason="ឈ្មោះខុស")
    finally:
        db.close()
    (site.home.secrets / KEY_FILE).unlink()  # a new key, as after a reinstall
    assert run_agent(site, "").returncode == 0
    body = requests.get(f"{central.url}/api/v1/certificates/{code}", timeout=10).json()
    assert body["status"] == "revoked" and body["revoked_reason"] == "ឈ្មោះខុស"
    assert body["signature_valid"] and body["key_pending"]  # still checked with the first key
    listed = central.cli("device", "list").stdout
    assert "offers a NEW signing key" in listed
    assert central.cli("device", "accept-key", device_id).returncode == 0
    after = requests.get(f"{central.url}/api/v1/certificates/{code}", timeout=10).json()
    assert after["signature_valid"] is False  # signed with the old key, which is replaced
    refused = central.cli("device", "accept-key", device_id, check=False)
    assert refused.returncode == 1 and "offers no new signing key" in refused.stderr
