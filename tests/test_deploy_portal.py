"""The phones' captive-portal probes and foreign host names, as a phone joining the Wi-Fi sees."""

from __future__ import annotations

import pytest

from edge_server.site.blueprints.portal import is_site_host
from tests.conftest import form_csrf

PHONE = {"REMOTE_ADDR": "10.42.0.57"}
OTHER_PHONE = {"REMOTE_ADDR": "10.42.0.58"}

# (host the phone asks, path, what it expects once the network is usable)
PROBES = [
    ("connectivitycheck.gstatic.com", "/generate_204", 204, b""),
    ("clients3.google.com", "/generate_204", 204, b""),
    ("captive.apple.com", "/hotspot-detect.html", 200, b"<BODY>Success</BODY>"),
    ("www.msftconnecttest.com", "/connecttest.txt", 200, b"Microsoft Connect Test"),
    ("www.msftncsi.com", "/ncsi.txt", 200, b"Microsoft NCSI"),
]


def sign_in_from(client, make_user, address: dict) -> None:
    user = make_user(password="lotus-pond-7")
    page = client.get("/login", environ_base=address)
    response = client.post(
        "/login",
        data={
            "username": user.username,
            "password": "lotus-pond-7",
            "csrf_token": form_csrf(page.get_data(as_text=True)),
        },
        environ_base=address,
    )
    assert response.status_code == 302


@pytest.mark.parametrize(("host", "path", "status", "body"), PROBES)
def test_probe_before_sign_in_opens_the_sign_in_page(client, host, path, status, body):
    response = client.get(path, headers={"Host": host}, environ_base=PHONE)
    assert response.status_code == 302
    assert response.headers["Location"] == "http://kru.local/login"


@pytest.mark.parametrize(("host", "path", "status", "body"), PROBES)
def test_probe_after_sign_in_gets_the_answer_the_phone_expects(
    client, make_user, host, path, status, body
):
    sign_in_from(client, make_user, PHONE)
    other = client.application.test_client()  # the phone's OS, without the browser's cookie
    response = other.get(path, headers={"Host": host}, environ_base=PHONE)
    assert response.status_code == status
    assert body in response.data


def test_sign_in_on_one_phone_does_not_release_another(client, make_user):
    sign_in_from(client, make_user, PHONE)
    response = client.get(
        "/generate_204", headers={"Host": "connectivitycheck.gstatic.com"}, environ_base=OTHER_PHONE
    )
    assert response.status_code == 302


def test_probe_answers_are_not_cached(client):
    response = client.get("/generate_204", environ_base=PHONE)
    assert response.headers["Cache-Control"] == "no-store"


def test_foreign_site_is_sent_to_sign_in_page(client):
    response = client.get("/news/today", headers={"Host": "www.bbc.com"}, environ_base=PHONE)
    assert response.status_code == 302
    assert response.headers["Location"] == "http://kru.local/login"


def test_foreign_site_keeps_a_non_default_port(client):
    response = client.get("/", headers={"Host": "example.com:8080"})
    assert response.headers["Location"] == "http://kru.local:8080/login"


@pytest.mark.parametrize("host", ["kru.local", "10.42.0.1", "192.168.1.20:8080", "[::1]:80", "kru"])
def test_site_names_are_served_normally(client, host):
    response = client.get("/login", headers={"Host": host})
    assert response.status_code == 200
    assert 'name="password"' in response.get_data(as_text=True)


def test_probe_on_site_name_redirects_within_the_site(client):
    response = client.get("/generate_204", headers={"Host": "10.42.0.1"})
    assert response.headers["Location"] == "/login"


@pytest.mark.parametrize(
    ("host", "site"),
    [("kru.local", True), ("KRU.LOCAL.", True), ("10.42.0.1", True), ("::1", True)]
    + [("example.com", False), ("captive.apple.com", False)],
)
def test_is_site_host(host, site):
    assert is_site_host(host) is site
