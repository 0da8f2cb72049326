"""Central accounts: sign-out ends the session on the server; so do a new password, role or
deactivation; new passwords follow the site's rule; sign-in limits per account."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from edge_server.cli.main import get_cli
from sync.central import registry
from sync.central.db import database
from tests.conftest import PASSWORD, assert_api_error, csrf_token, form_csrf
from tests.sync_support import CentralServer


def sign_in(client, username: str = "boss", role: str = "admin") -> None:
    if registry.CentralUser.get_or_none(registry.CentralUser.username == username) is None:
        registry.add_user(username, PASSWORD, role)
    response = client.post(
        "/api/v1/session",
        json={"username": username, "password": PASSWORD},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200, response.get_json()


def copied(app, client):
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    assert thief.get("/api/v1/devices").status_code == 200
    return thief


def test_copied_cookie_gets_401_after_api_sign_out(central_app):
    client = central_app.test_client()
    sign_in(client)
    thief = copied(central_app, client)
    client.delete("/api/v1/session", headers={"X-CSRFToken": csrf_token(client)})
    assert_api_error(thief.get("/api/v1/devices"), 401, "unauthorized")


def test_copied_cookie_goes_to_sign_in_after_page_sign_out(central_app):
    client = central_app.test_client()
    sign_in(client)
    thief = copied(central_app, client)
    page = client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": form_csrf(page)}).status_code == 302
    response = thief.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def kru_central(central_app, *args: str, input: str | None = None):
    data_dir = central_app.config["KRU"].data_dir
    result = CliRunner().invoke(
        get_cli(), ["--data-dir", str(data_dir), "central", *args], input=input
    )
    database.connect(reuse_if_open=True)
    return result


@pytest.mark.parametrize(
    "args",
    [
        ("user", "password", "boss", "--password", "a-new-pass-2026"),
        ("user", "set", "boss", "--inactive"),
        ("user", "set", "boss", "--role", "viewer"),
    ],
)
def test_account_changes_end_every_session(central_app, monkeypatch, args):
    monkeypatch.setenv("KRU_AUTH_HASH_MEMORY_KIB", "1024")
    client = central_app.test_client()
    sign_in(client)
    thief = copied(central_app, client)
    result = kru_central(central_app, *args)
    assert result.exit_code == 0, result.output
    assert thief.get("/api/v1/session").get_json()["user"] is None
    assert_api_error(thief.get("/api/v1/devices"), 401, "unauthorized")


def test_new_password_signs_in_and_the_old_one_does_not(central_app, monkeypatch):
    monkeypatch.setenv("KRU_AUTH_HASH_MEMORY_KIB", "1024")
    registry.add_user("boss", PASSWORD, "admin")
    result = kru_central(central_app, "user", "password", "boss", input="a-new-pass-2026\n")
    assert result.exit_code == 0, result.output
    assert registry.authenticate("boss", PASSWORD) is None
    assert registry.authenticate("boss", "a-new-pass-2026") is not None


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "too_short"),
        ("password1", "common"),
        ("Ministry-Boss", "same_as_username"),
        ("change-me-too", "placeholder"),
    ],
)
def test_central_accounts_follow_the_password_rule(central_app, password, reason):
    from edge_server.base.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        registry.add_user("ministry-boss", password, "admin")
    assert caught.value.code == "weak_password"
    assert caught.value.details == {"reason": reason}


def test_weak_central_password_is_one_line_on_stderr(central_app, monkeypatch):
    monkeypatch.setenv("KRU_AUTH_HASH_MEMORY_KIB", "1024")
    result = kru_central(
        central_app, "user", "add", "--username", "boss", "--password", "qwertyuiop"
    )
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "common" in result.stderr
    assert registry.CentralUser.select().count() == 0


def test_unknown_central_user_is_one_line_on_stderr(central_app, monkeypatch):
    result = kru_central(central_app, "user", "set", "nobody", "--inactive")
    assert result.exit_code == 1
    assert "nobody" in result.stderr and result.stderr.count("\n") == 1


def test_central_account_lock_is_per_account_and_lifted_by_cli(central_app):
    registry.add_user("boss", PASSWORD, "admin")
    client = central_app.test_client()
    token = csrf_token(client)
    for i in range(30):
        client.post(
            "/api/v1/session",
            json={"username": "boss", "password": f"guess-{i}"},
            headers={"X-CSRFToken": token},
            environ_base={"REMOTE_ADDR": f"10.0.{i // 250}.{i % 250 + 1}"},
        )
    response = client.post(
        "/api/v1/session",
        json={"username": "boss", "password": PASSWORD},
        headers={"X-CSRFToken": token},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert_api_error(response, 429, "rate_limited")
    assert kru_central(central_app, "user", "unlock", "boss").exit_code == 0
    response = client.post(
        "/api/v1/session",
        json={"username": "boss", "password": PASSWORD},
        headers={"X-CSRFToken": token},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert response.status_code == 200


@pytest.mark.postgres
@pytest.mark.slow
def test_sign_out_on_one_central_process_ends_the_cookie_on_another(tmp_path, pg_url):
    # Two `kru central serve` processes on one PostgreSQL and one data directory (one secret
    # key), as behind a load balancer.
    one = CentralServer(tmp_path / "central", database_url=pg_url)
    two = CentralServer(tmp_path / "central", database_url=pg_url)
    one.cli("user", "add", "--username", "boss", "--password", PASSWORD, "--role", "admin")
    try:
        one.start()
        two.start()
        browser = requests.Session()
        token = browser.get(one.url + "/api/v1/session", timeout=10).json()["csrf_token"]
        signed = browser.post(
            one.url + "/api/v1/session",
            json={"username": "boss", "password": PASSWORD},
            headers={"X-CSRFToken": token},
            timeout=10,
        )
        assert signed.status_code == 200, signed.text
        cookie = {"session": browser.cookies["session"]}
        assert requests.get(two.url + "/api/v1/devices", cookies=cookie, timeout=10).ok
        token = signed.json()["csrf_token"]
        out = browser.delete(
            one.url + "/api/v1/session", headers={"X-CSRFToken": token}, timeout=10
        )
        assert out.status_code == 200
        refused = requests.get(two.url + "/api/v1/devices", cookies=cookie, timeout=10)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
    finally:
        one.stop()
        two.stop()
