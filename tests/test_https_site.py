"""The site's HTTPS pieces without a CA: key and request, installing a chain, moving to HTTPS."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from cryptography import x509

from edge_server.base import site_tls
from edge_server.base.datahome import DataHome
from edge_server.base.errors import ValidationError
from edge_server.base.settings import load_settings
from tests.tls_helpers import install_raw, issue_for_site

DOMAIN = "kru.example.gov.kh"
NAME = f"tec-battambang.{DOMAIN}"


@pytest.fixture
def home(tmp_path) -> DataHome:
    return DataHome(tmp_path / "site").ensure()


def test_key_is_private_and_the_request_names_the_site(home: DataHome) -> None:
    pem = site_tls.ensure_csr(home, NAME)
    key_file = home.secrets / site_tls.KEY_FILE
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    csr = x509.load_pem_x509_csr(pem)
    assert csr.is_signature_valid
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [NAME]
    assert b"PRIVATE KEY" not in pem
    # The same request while name and key stay; a new one for a new name, same key.
    assert site_tls.ensure_csr(home, NAME) == pem
    other = x509.load_pem_x509_csr(site_tls.ensure_csr(home, f"x.{DOMAIN}"))
    assert other.public_key() == csr.public_key()


@pytest.mark.parametrize(
    ("settings", "label", "name", "expected"),
    [
        ({}, "", "TEC Battambang", ""),
        ({"https.domain": DOMAIN}, "", "TEC Battambang", NAME),
        ({"https.domain": DOMAIN + "."}, "btb", "TEC Battambang", f"btb.{DOMAIN}"),
        ({"https.domain": DOMAIN, "https.site_label": "site7"}, "btb", "x", f"site7.{DOMAIN}"),
    ],
)
def test_site_name_comes_from_settings_central_and_the_provisioned_name(
    settings: dict, label: str, name: str, expected: str
) -> None:
    resolved = load_settings(environ={}, overrides=settings)
    assert site_tls.site_name(resolved, label, name) == expected


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"https.domain": "not a domain"}, "TEC"),
        ({"https.domain": DOMAIN}, "តេក បាត់ដំបង"),  # Khmer only: no label can be made
        ({"https.domain": DOMAIN, "https.site_label": "-bad-"}, "TEC"),
    ],
)
def test_unusable_names_are_refused_with_a_clear_message(settings: dict, name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        site_tls.site_name(load_settings(environ={}, overrides=settings), "", name)
    assert "kru.example.gov.kh" in caught.value.message or "label" in caught.value.message


def test_a_chain_for_another_name_or_key_is_not_installed(home: DataHome, tmp_path) -> None:
    good = issue_for_site(home, NAME)
    wrong_name = issue_for_site(home, f"other.{DOMAIN}")
    stranger = DataHome(tmp_path / "other").ensure()
    wrong_key = issue_for_site(stranger, NAME)
    for pem, code in ((wrong_name, "certificate_name"), (wrong_key, "certificate_key")):
        with pytest.raises(site_tls.CertificateRejected) as caught:
            site_tls.install_chain(home, pem, NAME)
        assert caught.value.code == code
        assert not site_tls.TlsPaths.of(home).chain.exists()
    with pytest.raises(site_tls.CertificateRejected):
        site_tls.install_chain(home, b"not a certificate", NAME)
    site_tls.install_chain(home, good, NAME)
    assert site_tls.status(home, NAME).state == site_tls.VALID


def test_status_warns_before_expiry_and_reports_a_lapse(home: DataHome) -> None:
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=60)
    install_raw(
        home, issue_for_site(home, NAME, not_before=start, not_after=start + dt.timedelta(days=90))
    )
    state = site_tls.status(home, NAME)
    assert state.state == site_tls.RENEWAL_DUE  # 60 of 90 days: past 2/3
    later = site_tls.status(home, NAME, now + dt.timedelta(days=20))
    assert later.state == site_tls.NEAR_EXPIRY_STATE and later.serving
    lapsed = site_tls.status(home, NAME, now + dt.timedelta(days=31))
    assert lapsed.state == site_tls.LAPSED and not lapsed.serving
    assert site_tls.status(home, NAME, now - dt.timedelta(days=30)).state == site_tls.VALID


def section(page: str) -> str:
    return page.split('id="https"', 1)[1].split("</section>", 1)[0]


# --- the web side ---------------------------------------------------------------------------


@pytest.fixture
def https_app_config(app_config: dict) -> dict:
    app_config["https.domain"] = DOMAIN
    return app_config


def test_signed_in_user_on_http_is_moved_to_https_when_a_certificate_is_installed(
    https_app_config,
    app,
    client,
    login_as,
) -> None:
    user = login_as("learner")
    home = app.config["KRU_HOME"]
    assert client.get("/learn/").status_code in (200, 302)  # no certificate: stays on HTTP
    assert b"kru-https" not in client.get("/learn/", follow_redirects=True).data
    site_tls.install_chain(home, issue_for_site(home, NAME), NAME)
    page = client.get("/learn/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    target = re.search(r'data-target="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert target.startswith(f"https://{NAME}/https/handover?t=")
    assert page.headers["Cache-Control"] == "no-store"
    # API calls, static files and the portal's probes never move.
    assert client.get("/api/v1/session").status_code == 200
    assert client.get("/generate_204").status_code == 204

    # The HTTPS origin (through the TLS front on loopback) signs the same user in once.
    other = app.test_client()
    path = target.split(NAME, 1)[1]
    front = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.42.0.77", "Host": NAME}
    arrived = other.get(path, headers=front)
    assert arrived.status_code == 200
    assert b'id="kru-https-arrived"' in arrived.data
    session = other.get("/api/v1/session", headers=front).get_json()
    assert session["user"]["username"] == user.username
    replay = app.test_client().get(path, headers=front)
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]


def test_lapsed_certificate_means_http_only(https_app_config, app, client, login_as) -> None:
    login_as("learner")
    home = app.config["KRU_HOME"]
    now = dt.datetime.now(dt.UTC)
    install_raw(
        home,
        issue_for_site(
            home,
            NAME,
            not_before=now - dt.timedelta(days=90),
            not_after=now - dt.timedelta(minutes=1),
        ),
    )
    page = client.get("/learn/", headers={"Accept": "text/html"})
    assert b"kru-https" not in page.data


def test_forwarded_headers_count_only_from_the_local_front(https_app_config, app) -> None:
    seen = {}

    @app.get("/_whoami")
    def whoami():
        from flask import request

        seen.update(scheme=request.scheme, addr=request.remote_addr)
        return "ok"

    client = app.test_client()
    spoof = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.9.9.9"}
    client.get("/_whoami", headers=spoof, environ_base={"REMOTE_ADDR": "10.42.0.50"})
    assert seen == {"scheme": "http", "addr": "10.42.0.50"}
    client.get("/_whoami", headers=spoof, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert seen == {"scheme": "https", "addr": "10.9.9.9"}


def test_portal_takes_the_https_name_as_this_site(https_app_config, app, client) -> None:
    home = app.config["KRU_HOME"]
    assert "kru.local" in client.get("/login", headers={"Host": NAME}).headers.get("Location", "")
    site_tls.install_chain(home, issue_for_site(home, NAME), NAME)
    assert client.get("/login", headers={"Host": NAME}).status_code == 200


def test_admin_page_shows_the_certificate_and_warns_near_expiry(
    https_app_config,
    app,
    client,
    login_as,
) -> None:
    login_as("admin")
    home = app.config["KRU_HOME"]
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="https"' in page
    assert "badge warn" in section(page)
    now = dt.datetime.now(dt.UTC)
    install_raw(
        home,
        issue_for_site(
            home,
            "tec-battambang.kru.example.gov.kh",
            not_before=now - dt.timedelta(days=80),
            not_after=now + dt.timedelta(days=10),
        ),
    )
    (home.root / "https" / "central.json").write_text('{"label": "tec-battambang"}')
    page = client.get("/admin/").get_data(as_text=True)
    assert "badge bad" in section(page) and 'role="alert"' in section(page)
