"""Sign-in limits per account from every address; successful sign-ins do not count; a locked
learner is told how long to wait, in Khmer digits; an instructor or admin lifts the lock."""

from __future__ import annotations

import math
import re

import pytest

from edge_server import accounts
from tests.conftest import PASSWORD, assert_api_error, csrf_token, form_csrf

KHMER_DIGITS = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")


def phone(n: int) -> dict:
    """The WSGI environ of the n-th phone on the site Wi-Fi (its own DHCP address)."""
    return {"REMOTE_ADDR": f"10.42.{n // 200}.{n % 200 + 10}"}


def api_sign_in(client, username: str, password: str, n: int):
    return client.post(
        "/api/v1/session",
        json={"username": username, "password": password},
        headers={"X-CSRFToken": csrf_token(client)},
        environ_base=phone(n),
    )


def guess_from_many_phones(client, username: str, count: int = 30) -> None:
    """A classmate's guesses, each from another phone (or a phone that changed address)."""
    for i in range(count):
        assert api_sign_in(client, username, f"guess-{i}", i).status_code == 401


def test_guesses_from_many_addresses_lock_the_account(client, make_user):
    make_user(username="dara")
    guess_from_many_phones(client, "dara")
    response = api_sign_in(client, "dara", PASSWORD, 999)
    error = assert_api_error(response, 429, "rate_limited")
    assert error["scope"] == "account"
    assert int(response.headers["Retry-After"]) > 60
    assert client.get("/api/v1/session").get_json()["user"] is None


def test_a_lock_on_one_account_leaves_the_others_alone(client, make_user):
    make_user(username="dara")
    make_user(username="sophea")
    guess_from_many_phones(client, "dara")
    assert api_sign_in(client, "sophea", PASSWORD, 999).status_code == 200


def test_successful_sign_ins_do_not_count(app, make_user):
    make_user(username="dara")
    # More than every limit (10 a minute per phone, 30 an hour per account), from one phone.
    for _ in range(35):
        client = app.test_client()
        assert api_sign_in(client, "dara", PASSWORD, 1).status_code == 200


def test_locked_learner_sees_how_long_to_wait_in_khmer_digits(client, make_user):
    make_user(username="dara")
    guess_from_many_phones(client, "dara")
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"username": "dara", "password": PASSWORD, "csrf_token": form_csrf(page)},
        environ_base=phone(999),
    )
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    minutes = math.ceil(int(response.headers["Retry-After"]) / 60)
    assert str(minutes).translate(KHMER_DIGITS) in html
    assert "គ្រូ" in html  # "ask your instructor"
    assert 'name="password"' in html  # the sign-in form stays, to try again later


def test_locked_learner_sees_the_wait_in_english_digits_in_english(client, make_user):
    make_user(username="dara")
    guess_from_many_phones(client, "dara")
    with client.session_transaction() as sess:
        sess["lang"] = "en"
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"username": "dara", "password": PASSWORD, "csrf_token": form_csrf(page)},
        environ_base=phone(999),
    )
    minutes = math.ceil(int(response.headers["Retry-After"]) / 60)
    assert f"Try again in {minutes} minute" in response.get_data(as_text=True)


def test_account_lock_is_shared_by_every_server_process(app, app_config, client, make_user):
    from edge_server import create_app

    make_user(username="dara")
    guess_from_many_phones(client, "dara")
    other = create_app(app_config).test_client()
    assert_api_error(api_sign_in(other, "dara", PASSWORD, 999), 429, "rate_limited")


@pytest.fixture
def locked(app, client, make_user, make_cohort):
    dara = make_user(username="dara")
    teacher = make_user(role="instructor", username="teacher")
    other_teacher = make_user(role="instructor", username="stranger")
    cohort = make_cohort(learners=[dara], instructors=[teacher])
    make_cohort(instructors=[other_teacher])
    guess_from_many_phones(client, "dara")
    return {"dara": dara, "teacher": teacher, "stranger": other_teacher, "cohort": cohort}


def test_instructor_sees_the_lock_and_lifts_it_from_the_learners_page(
    app, client, login_as, locked
):
    login_as(user=locked["teacher"])
    url = f"/teach/cohorts/{locked['cohort'].id}/learners/{locked['dara'].id}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="sign-in-lock"' in page
    response = client.post(url + "/unlock", data={"csrf_token": form_csrf(page)})
    assert response.status_code in (302, 303)
    assert 'id="sign-in-lock"' not in client.get(url).get_data(as_text=True)
    learner = app.test_client()
    assert api_sign_in(learner, "dara", PASSWORD, 999).status_code == 200


def test_instructor_of_another_cohort_cannot_lift_the_lock(app, client, login_as, locked):
    login_as(user=locked["stranger"])
    url = f"/teach/cohorts/{locked['cohort'].id}/learners/{locked['dara'].id}/unlock"
    response = client.post(url, headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code in (403, 404)
    assert_api_error(api_sign_in(app.test_client(), "dara", PASSWORD, 999), 429, "rate_limited")


def test_learner_cannot_lift_a_lock(app, client, login_as, locked, make_user):
    classmate = make_user()
    accounts.add_to_cohort(locked["cohort"], classmate)
    login_as(user=classmate)
    url = f"/teach/cohorts/{locked['cohort'].id}/learners/{locked['dara'].id}/unlock"
    response = client.post(url, headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 403
    assert_api_error(api_sign_in(app.test_client(), "dara", PASSWORD, 999), 429, "rate_limited")


def test_admin_lifts_the_lock_from_the_account_page(app, client, login_as, locked):
    login_as("admin")
    url = f"/admin/users/{locked['dara'].id}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="sign-in-lock"' in page
    minutes = re.search(r'id="sign-in-lock"[^>]*>(.*?)</', page, re.S).group(1)
    assert any(ch in minutes for ch in "០១២៣៤៥៦៧៨៩")
    response = client.post(url, data={"action": "unlock", "csrf_token": form_csrf(page)})
    assert response.status_code == 302
    assert api_sign_in(app.test_client(), "dara", PASSWORD, 999).status_code == 200


def test_cli_lifts_the_lock(app, client, locked, runner):
    result = runner("user", "unlock", "dara")
    assert result.exit_code == 0, result.output
    assert api_sign_in(app.test_client(), "dara", PASSWORD, 999).status_code == 200


def test_unlocking_an_unknown_account_is_one_line_on_stderr(runner):
    result = runner("user", "unlock", "nobody")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1


def test_account_limit_setting_is_checked_at_start(app_config):
    from edge_server import create_app
    from edge_server.base.errors import ConfigError

    with pytest.raises(ConfigError):
        create_app({**app_config, "auth.login_limit_per_account": "thirty an hour"})


def test_unlock_leaves_other_accounts_locked(app, client, make_user):
    from edge_server.web.ratelimit import LoginLimiter as Limiter

    make_user(username="dara")
    make_user(username="da_a")
    guess_from_many_phones(client, "dara")
    guess_from_many_phones(client, "da_a")
    limiter: Limiter = app.extensions["kru_login_limiter"]
    limiter.unlock("da_a")  # "_" must not match "r" as a LIKE wildcard
    assert limiter.account_lock("dara") is not None
    assert limiter.account_lock("da_a") is None
