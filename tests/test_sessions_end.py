"""Signing out ends the session on the server, and so do a new password, role or deactivation.

A "copied cookie" is the session cookie of one browser set into another test client: what a
classmate who photographed the cookie, or whoever holds a stolen phone, would send.
"""

from __future__ import annotations

import pytest

from edge_server import accounts
from tests.conftest import PASSWORD, api_headers, assert_api_error, form_csrf


def copy_cookie(source, target) -> None:
    target.set_cookie("session", source.get_cookie("session").value)


def signed_in_copy(app, client, login_as, role: str = "learner"):
    """Sign ``client`` in and return (user, a second client holding a copy of its cookie)."""
    user = login_as(role)
    thief = app.test_client()
    copy_cookie(client, thief)
    assert thief.get("/api/v1/progress/me").status_code == 200  # the copy works before
    return user, thief


def test_copied_cookie_gets_401_after_api_sign_out(app, client, login_as):
    _user, thief = signed_in_copy(app, client, login_as)
    assert client.delete("/api/v1/session", headers=api_headers(client)).status_code == 200
    assert_api_error(thief.get("/api/v1/progress/me"), 401, "unauthorized")
    assert thief.get("/api/v1/session").get_json()["user"] is None


def test_copied_cookie_goes_to_sign_in_page_after_page_sign_out(app, client, login_as):
    _user, thief = signed_in_copy(app, client, login_as)
    home = client.get("/learn/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": form_csrf(home)}).status_code == 302
    response = thief.get("/learn/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_sign_out_ends_the_session_in_every_server_process(app, app_config, client, login_as):
    # A second app on the same data home stands for the other waitress worker process.
    from edge_server import create_app

    login_as("learner")
    other = create_app(app_config).test_client()
    copy_cookie(client, other)
    assert other.get("/api/v1/progress/me").status_code == 200
    client.delete("/api/v1/session", headers=api_headers(client))
    assert_api_error(other.get("/api/v1/progress/me"), 401, "unauthorized")


def test_a_session_survives_a_restart(app, app_config, client, login_as):
    from edge_server import create_app

    login_as("learner")
    restarted = create_app(app_config).test_client()
    copy_cookie(client, restarted)
    assert restarted.get("/api/v1/progress/me").status_code == 200


def _reset_password(user) -> None:
    accounts.set_password(user, "a-new-pass-2026")


def _new_role(user) -> None:
    accounts.update_user(user, role="instructor")


def _deactivate(user) -> None:
    accounts.update_user(user, active=False)


@pytest.mark.parametrize("change", [_reset_password, _new_role, _deactivate])
def test_every_session_of_a_user_ends_when_their_account_changes(app, login_as, change):
    from edge_server.accounts.models import UserSession

    phone, laptop = app.test_client(), app.test_client()
    user = None
    for device in (phone, laptop):
        token = device.get("/api/v1/session").get_json()["csrf_token"]
        if user is None:
            user = accounts.create_user("dara", PASSWORD)
        assert (
            device.post(
                "/api/v1/session",
                json={"username": "dara", "password": PASSWORD},
                headers={"X-CSRFToken": token},
            ).status_code
            == 200
        )
    assert UserSession.select().where(UserSession.user == user.id).count() == 2
    change(accounts.get_user(user.id))
    for device in (phone, laptop):
        assert device.get("/api/v1/session").get_json()["user"] is None
    assert UserSession.select().where(UserSession.user == user.id).count() == 0


def test_reactivating_does_not_bring_old_sessions_back(app, client, login_as):
    user, thief = signed_in_copy(app, client, login_as)
    accounts.update_user(user, active=False)
    accounts.update_user(accounts.get_user(user.id), active=True)
    assert_api_error(thief.get("/api/v1/progress/me"), 401, "unauthorized")


def test_saving_a_name_keeps_the_sessions(app, client, login_as):
    user, thief = signed_in_copy(app, client, login_as)
    accounts.update_user(user, display_name="សុខ ដារា", language="en")
    assert thief.get("/api/v1/progress/me").status_code == 200


def test_other_users_keep_their_sessions(app, client, login_as, make_user):
    user = login_as("learner")
    accounts.set_password(make_user(), "a-new-pass-2026")
    assert client.get("/api/v1/session").get_json()["user"]["id"] == user.id


def test_admin_password_reset_page_signs_the_learner_out(app, client, login_as, make_user):
    learner = make_user(username="dara")
    phone = app.test_client()
    token = phone.get("/api/v1/session").get_json()["csrf_token"]
    phone.post(
        "/api/v1/session",
        json={"username": "dara", "password": PASSWORD},
        headers={"X-CSRFToken": token},
    )
    assert phone.get("/api/v1/progress/me").status_code == 200
    login_as("admin")
    page = client.get(f"/admin/users/{learner.id}").get_data(as_text=True)
    response = client.post(
        f"/admin/users/{learner.id}",
        data={"action": "password", "password": "a-new-pass-2026", "csrf_token": form_csrf(page)},
    )
    assert response.status_code == 302
    assert_api_error(phone.get("/api/v1/progress/me"), 401, "unauthorized")


def test_cli_deactivation_in_another_process_ends_the_session(app, client, login_as, runner):
    user = login_as("learner")
    assert runner("user", "set", user.username, "--inactive").exit_code == 0
    assert_api_error(client.get("/api/v1/progress/me"), 401, "unauthorized")


def test_cli_password_reset_ends_the_session(app, client, login_as, runner):
    user = login_as("learner")
    result = runner("user", "password", user.username, "--password", "a-new-pass-2026")
    assert result.exit_code == 0, result.output
    assert_api_error(client.get("/api/v1/progress/me"), 401, "unauthorized")


def test_a_cookie_from_before_server_side_sessions_is_refused(app, client, make_user):
    # Flask-Login's own keys without Kru's session token: a cookie signed by the same key but
    # made before this release, or forged from a leaked secret key alone.
    user = make_user()
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user.id)
        sess["_fresh"] = True
    assert_api_error(client.get("/api/v1/progress/me"), 401, "unauthorized")


def test_signed_in_user_is_loaded_in_one_query(app, client, login_as):
    from playhouse.test_utils import count_queries

    login_as("learner")
    with count_queries() as counted:
        assert client.get("/api/v1/session").get_json()["user"] is not None
    assert counted.count == 1, [q.msg for q in counted.get_queries()]


def test_expired_session_is_refused_and_forgotten(app, client, login_as):
    from edge_server.accounts.models import UserSession

    user = login_as("learner")
    UserSession.update(expires_at=0).where(UserSession.user == user.id).execute()
    assert client.get("/api/v1/session").get_json()["user"] is None
    login_as(user=user)
    assert UserSession.select().where(UserSession.expires_at == 0).count() == 0


def test_remember_me_cookie_is_never_set(client, login_as):
    login_as("learner")
    assert client.get_cookie("remember_token") is None


def test_a_session_in_daily_use_is_extended_at_half_its_lifetime(app, client, login_as):
    import time

    from edge_server.accounts.models import UserSession

    user = login_as("learner")
    lifetime = app.config["KRU"]["session_days"] * 86400
    UserSession.update(expires_at=time.time() + lifetime / 2 - 60).where(
        UserSession.user == user.id
    ).execute()
    assert client.get("/api/v1/progress/me").status_code == 200
    row = UserSession.get(UserSession.user == user.id)
    assert row.expires_at > time.time() + lifetime - 3600


def _session_cookie_set(response) -> bool:
    return any(h.startswith("session=") for h in response.headers.getlist("Set-Cookie"))


def test_a_signed_in_page_does_not_sign_the_cookie_again(client, login_as):
    # Re-signing and compressing the cookie on every answer cost a learner page a tenth of
    # its time (issue 22); the server-side session decides how long a sign-in lasts.
    login_as("learner")
    response = client.get("/learn/")
    assert response.status_code == 200
    assert not _session_cookie_set(response)


def test_the_cookie_is_renewed_when_the_session_is_extended(app, client, login_as):
    import time

    from edge_server.accounts.models import UserSession

    user = login_as("learner")
    lifetime = app.config["KRU"]["session_days"] * 86400
    UserSession.update(expires_at=time.time() + lifetime / 2 - 60).where(
        UserSession.user == user.id
    ).execute()
    response = client.get("/learn/")
    assert response.status_code == 200
    assert _session_cookie_set(response)  # the phone's cookie lasts as long as the session
    assert not _session_cookie_set(client.get("/learn/"))
