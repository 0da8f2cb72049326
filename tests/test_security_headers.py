"""Security headers on both servers: CSP on every page, the same headers on central as on the
site, a ``Secure`` cookie over HTTPS, and client addresses from trusted proxies only."""

from __future__ import annotations

import functools
import http.client
import json
import os
import re
import urllib.error
import urllib.request
from http.cookiejar import CookieJar

import pytest

from tests.central_support import sign_in as central_sign_in
from tests.conftest import csrf_token, form_csrf
from tests.learning_catalog import make_catalog
from tests.livesite import LiveSite

SHARED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}


def csp_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    policy = {}
    for part in filter(None, (p.strip() for p in header.split(";"))):
        name, *values = part.split()
        policy[name] = values
    return policy


def assert_page_policy(response) -> None:
    policy = csp_of(response)
    assert policy, "no Content-Security-Policy"
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert "'unsafe-inline'" not in policy.get("style-src", [])
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]


@pytest.fixture
def pages(app, client, make_user, make_cohort):
    make_catalog(open_course=True)
    learner = make_user()
    teacher = make_user(role="instructor")
    cohort = make_cohort(learners=[learner], instructors=[teacher])
    return {"learner": learner, "instructor": teacher, "admin": make_user(role="admin")}, cohort


SITE_PAGES = {
    None: ["/login", "/no-such-page"],
    "learner": ["/learn/", "/learn/progress", "/search?q=x", "/teach/"],
    "instructor": ["/teach/", "/teach/cohorts/{cohort}", "/packs/", "/packs/upload"],
    "admin": ["/admin/", "/admin/users", "/admin/users/import", "/admin/cohorts"],
}


@pytest.mark.parametrize("role", list(SITE_PAGES), ids=lambda r: r or "anonymous")
def test_every_site_page_has_the_policy_and_headers(app, pages, login_as, role):
    users, cohort = pages
    client = app.test_client()
    if role:
        token = csrf_token(client)
        client.post(
            "/api/v1/session",
            json={"username": users[role].username, "password": "lotus-pond-7"},
            headers={"X-CSRFToken": token},
        )
    for path in SITE_PAGES[role]:
        response = client.get(path.format(cohort=cohort.id))
        assert response.mimetype == "text/html", path
        assert_page_policy(response)
        for name, value in SHARED.items():
            assert response.headers.get(name) == value, (path, name)


@pytest.mark.parametrize("path", ["/login", "/no-such-page", "/", "/sites/nope"])
def test_central_pages_send_the_same_headers_as_the_site(central_app, path):
    client = central_app.test_client()
    central_sign_in(client, "viewer")
    response = client.get(path, follow_redirects=True)
    assert response.mimetype == "text/html"
    assert_page_policy(response)
    for name, value in SHARED.items():
        assert response.headers.get(name) == value, name
    assert response.headers["Cache-Control"] == "no-store"


def test_no_page_has_inline_script_or_style(app, pages, client, login_as):
    users, cohort = pages
    login_as(user=users["admin"])
    for path in ["/admin/", "/teach/cohorts/{cohort}", "/learn/"]:
        html = client.get(path.format(cohort=cohort.id)).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert " style=" not in html and "<style" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path


def test_files_keep_their_own_sandbox_policy(app, client, login_as, tmp_path):
    from content_packs.models import PackFile
    from tests.packs_factory import build_pack, install, lesson

    install(app, build_pack(tmp_path, items=[lesson("page", html=True, body="<p>x</p>")]))
    login_as("learner")
    row = PackFile.select().where(PackFile.path.endswith(".html")).get()
    with client.get(f"/c/{row.sha256}") as response:
        assert response.headers["Content-Security-Policy"].startswith("sandbox")


# --- the session cookie over HTTPS ---------------------------------------------------------


def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_central_cookie_is_secure_over_https(central_app):
    from sync.central import registry

    registry.add_user("viewer1", "lotus-pond-7", "viewer")
    client = central_app.test_client()
    token = client.get("/api/v1/session", base_url="https://central.example").get_json()
    response = client.post(
        "/api/v1/session",
        json={"username": "viewer1", "password": "lotus-pond-7"},
        # Over HTTPS the CSRF check also wants a Referer from the same site, as a browser sends.
        headers={"X-CSRFToken": token["csrf_token"], "Referer": "https://central.example/"},
        base_url="https://central.example",
    )
    assert response.status_code == 200
    assert "; Secure" in _session_cookie(response)


def test_central_cookie_is_not_secure_over_plain_http(central_app):
    client = central_app.test_client()
    response = client.get("/api/v1/session")
    assert "; Secure" not in _session_cookie(response)


def test_site_cookie_is_secure_over_https(app):
    client = app.test_client()
    response = client.get("/api/v1/session", base_url="https://kru.local")
    assert "; Secure" in _session_cookie(response)


# --- client addresses behind a reverse proxy -----------------------------------------------

ENV = {
    **os.environ,
    "KRU_AUTH_HASH_MEMORY_KIB": "1024",
    "KRU_AUTH_HASH_TIME_COST": "1",
    "KRU_AUTH_LOGIN_LIMIT_PER_ADDRESS": "3 per minute",
}


class _FromPhoneAddress(urllib.request.HTTPHandler):
    """Connect from 127.0.0.2: a phone's address, not the site's own TLS front (127.0.0.1),
    which alone may say who asked (issue 23)."""

    def http_open(self, req):
        return self.do_open(
            functools.partial(http.client.HTTPConnection, source_address=("127.0.0.2", 0)), req
        )


def _sign_in_as(site: LiveSite, username: str, headers: dict[str, str]) -> int:
    """Try a wrong password for ``username`` from the client the headers name; the status."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(CookieJar()), _FromPhoneAddress()
    )
    url = f"{site.url}/api/v1/session"
    get = urllib.request.Request(url, headers=headers)
    token = json.loads(opener.open(get, timeout=10).read())["csrf_token"]
    post = urllib.request.Request(
        url,
        data=json.dumps({"username": username, "password": "wrong-password"}).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": token, **headers},
    )
    try:
        return opener.open(post, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def _proxied(client: str) -> dict[str, str]:
    return {"X-Forwarded-For": client}


def test_behind_a_trusted_proxy_the_sign_in_limit_is_per_client(tmp_path):
    env = {**ENV, "KRU_TRUSTED_PROXIES": "1"}
    with LiveSite(tmp_path / "home", env=env) as site:
        first = [_sign_in_as(site, f"user{i}", _proxied("10.0.0.5")) for i in range(4)]
        other = _sign_in_as(site, "user9", _proxied("10.0.0.6"))
    assert first == [401, 401, 401, 429]
    assert other == 401  # another phone behind the same proxy is not locked out


def test_without_trusted_proxies_forwarded_headers_are_ignored(tmp_path):
    with LiveSite(tmp_path / "home", env=ENV) as site:
        first = [_sign_in_as(site, f"user{i}", _proxied(f"10.0.0.{i}")) for i in range(3)]
        spoofed = _sign_in_as(site, "user9", _proxied("10.0.0.99"))
    assert first == [401, 401, 401]
    assert spoofed == 429  # a made-up X-Forwarded-For does not buy new guesses


def test_https_from_a_trusted_proxy_makes_the_cookie_secure(tmp_path):
    env = {**ENV, "KRU_TRUSTED_PROXIES": "1"}
    with LiveSite(tmp_path / "home", env=env) as site:
        request = urllib.request.Request(
            f"{site.url}/api/v1/session",
            headers={**_proxied("10.0.0.5"), "X-Forwarded-Proto": "https"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback
            cookie = response.headers.get("Set-Cookie", "")
    assert "; Secure" in cookie


def test_forms_still_work_under_the_policy(app, client, login_as):
    login_as("admin")
    page = client.get("/admin/cohorts").get_data(as_text=True)
    response = client.post(
        "/admin/cohorts", data={"csrf_token": form_csrf(page), "name": "Class A"}
    )
    assert response.status_code in (200, 302, 303)


def test_learner_pages_may_be_kept_on_the_phone_but_are_checked_first(client, login_as):
    """Issue 14: Back must work from the page cache when the Wi-Fi is gone."""
    login_as(role="learner")
    response = client.get("/learn/")
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert client.get("/learn/progress").headers["Cache-Control"] == "private, no-cache"


def test_sign_out_clears_the_phones_cache(client, login_as):
    """A shared phone: the next person must not page Back into the last learner's pages."""
    login_as(role="learner")
    response = client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache"'
    assert client.get("/login").headers["Cache-Control"] == "no-store"
