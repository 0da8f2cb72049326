"""The password rule: 8+ characters, not the username, not common, not one of Kru's examples.

Every way of setting a password asks the same rule; sign-in never does, so an older, shorter
password keeps working until it is changed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge_server import accounts
from edge_server.accounts import roster
from edge_server.accounts.models import User
from edge_server.base import passwords
from edge_server.base.errors import ValidationError as WeakPassword
from tests.conftest import PASSWORD, assert_api_error, csrf_token, form_csrf

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("password", "username", "reason"),
    [
        ("", "dara", "too_short"),
        ("kru2026", "dara", "too_short"),
        ("sokhadara", "sokhadara", "same_as_username"),
        ("SokhaDara", "sokhadara", "same_as_username"),
        ("password", "dara", "common"),
        ("Password1", "dara", "common"),
        ("12345678", "dara", "common"),
        ("qwertyuiop", "dara", "common"),
        ("iloveyou", "dara", "common"),
        ("change-me", "dara", "placeholder"),
        ("change-me-too", "dara", "placeholder"),
        ("Change-Me-Please", "dara", "placeholder"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password, username, reason):
    with pytest.raises(WeakPassword) as caught:
        accounts.check_password(password, username)
    assert caught.value.code == "weak_password"
    assert caught.value.details == {"reason": reason}


@pytest.mark.parametrize("password", [PASSWORD, "ស្រូវ-២០២៦-ក្រហម", "mekong-river-2026", "48273915"])
def test_good_passwords_pass(password):
    assert accounts.check_password(password, "dara") == password


def test_the_list_is_bundled_and_large():
    common = passwords.common_passwords()  # read once per process, about 1 MB
    assert len(common) > 10_000
    assert {"password", "12345678", "football", "baseball"} <= common


def _example_passwords() -> set[str]:
    """Every password or passphrase written as an example in Kru's templates and guides."""
    found: set[str] = set()
    pattern = re.compile(r'^\s*(?:admin_password|wifi_passphrase)\s*=\s*"([^"]*)"', re.M)
    files = [*ROOT.glob("deploy/**/*.example"), *ROOT.glob("deploy/**/*.toml*")]
    files += [*ROOT.glob("docs/*.md"), ROOT / "README.md"]
    for path in files:
        found.update(pattern.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_example_password_in_kru_templates_is_refused():
    examples = _example_passwords()
    assert "change-me-too" in examples  # the scan finds the setup template's example
    for example in examples:
        with pytest.raises(WeakPassword):
            accounts.check_password(example, "admin")


def test_generated_class_list_passwords_pass_the_rule():
    for _ in range(500):
        made = accounts.generate_password()
        assert accounts.check_password(made, "dara") == made


def test_an_old_short_password_still_signs_in(client, app):
    # Set before the rule: written straight into the table, as the old release did.
    User.create(
        username="vanna",
        display_name="Vanna",
        role="learner",
        password_hash=passwords.hasher().hash("abc123"),
    )
    response = client.post(
        "/api/v1/session",
        json={"username": "vanna", "password": "abc123"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200


def test_changing_an_old_short_password_needs_a_good_one(app):
    user = User.create(
        username="vanna",
        display_name="Vanna",
        role="learner",
        password_hash=passwords.hasher().hash("abc123"),
    )
    with pytest.raises(WeakPassword):
        accounts.set_password(user, "abc1234")
    assert accounts.authenticate("vanna", "abc123") is not None


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("km", "ពាក្យសម្ងាត់នេះ"),
        ("en", "one of the most common passwords"),
    ],
)
def test_admin_page_refuses_a_common_password_in_the_users_language(client, login_as, lang, text):
    admin = login_as("admin")
    accounts.update_user(admin, language=lang)
    page = client.get("/admin/users/new").get_data(as_text=True)
    response = client.post(
        "/admin/users/new",
        data={
            "username": "sokha",
            "password": "football",
            "display_name": "Sokha",
            "role": "learner",
            "csrf_token": form_csrf(page),
        },
    )
    assert response.status_code == 400
    assert text in response.get_data(as_text=True)
    assert not User.select().where(User.username == "sokha").exists()


def test_admin_password_reset_refuses_the_username(client, login_as, make_user):
    login_as("admin")
    learner = make_user(username="sokhadara")
    page = client.get(f"/admin/users/{learner.id}").get_data(as_text=True)
    response = client.post(
        f"/admin/users/{learner.id}",
        data={"action": "password", "password": "SOKHADARA", "csrf_token": form_csrf(page)},
    )
    assert response.status_code == 400
    assert "ឈ្មោះអ្នកប្រើ" in response.get_data(as_text=True)
    assert accounts.authenticate("sokhadara", PASSWORD) is not None


def test_password_field_asks_for_eight_characters(client, login_as):
    login_as("admin")
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert 'minlength="8"' in page and 'minlength="6"' not in page


def test_cli_refuses_a_common_password_with_one_line(runner):
    result = runner("user", "add", "sokha", "--password", "baseball")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "common" in result.stderr


def test_cli_refuses_the_username_as_password(runner):
    assert runner("user", "add", "sokha", "--password", PASSWORD).exit_code == 0
    result = runner("user", "password", "sokha", "--password", "Sokha")
    assert result.exit_code == 1
    result = runner("user", "password", "sokhadara", "--password", "sokhadara")
    assert result.exit_code == 1


def test_class_list_row_with_a_common_password_is_a_problem(app):
    data = b"username,display_name,password\nsokha,Sokha,football\ndara,Dara,\n"
    with pytest.raises(roster.RosterError) as caught:
        roster.import_roster(data)
    assert [p.line for p in caught.value.problems] == [2]
    assert caught.value.problems[0].error.code == "weak_password"


def test_class_list_row_with_its_username_as_password_is_a_problem(app):
    data = b"username,display_name,password\nsokhadara,Sokha,sokhadara\n"
    with pytest.raises(roster.RosterError):
        roster.import_roster(data)


def test_api_password_change_answers_weak_password_with_a_reason(client, login_as):
    login_as("learner")
    response = client.post(
        "/api/v1/session/password",
        json={"current_password": PASSWORD, "new_password": "sunshine"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    error = assert_api_error(response, 400, "weak_password")
    assert error["reason"] == "common"


def test_api_password_change_keeps_this_session_and_ends_the_others(app, client, login_as):
    user = login_as("learner")
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    phone = app.test_client()
    phone.post(
        "/api/v1/session",
        json={"username": user.username, "password": PASSWORD},
        headers={"X-CSRFToken": csrf_token(phone)},
    )
    assert phone.get("/api/v1/progress/me").status_code == 200
    response = client.post(
        "/api/v1/session/password",
        json={"current_password": PASSWORD, "new_password": "mekong-river-2026"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["user"]["id"] == user.id
    assert client.get("/api/v1/progress/me").status_code == 200
    assert_api_error(phone.get("/api/v1/progress/me"), 401, "unauthorized")
    assert_api_error(other.get("/api/v1/progress/me"), 401, "unauthorized")
    assert accounts.authenticate(user.username, "mekong-river-2026") is not None


def test_api_password_change_needs_the_current_password(client, login_as):
    user = login_as("learner")
    response = client.post(
        "/api/v1/session/password",
        json={"current_password": "not-it-at-all", "new_password": "mekong-river-2026"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert_api_error(response, 403, "bad_credentials")
    assert accounts.authenticate(user.username, PASSWORD) is not None


def test_api_password_change_needs_a_sign_in(client):
    response = client.post(
        "/api/v1/session/password",
        json={"current_password": "x", "new_password": "mekong-river-2026"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert_api_error(response, 401, "unauthorized")


def test_api_password_change_with_a_bad_body_is_a_400(client, login_as):
    login_as("learner")
    response = client.post(
        "/api/v1/session/password", json=["x"], headers={"X-CSRFToken": csrf_token(client)}
    )
    assert_api_error(response, 400, "invalid_body")
