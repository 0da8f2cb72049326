"""Sign-in, sign-out, wrong passwords, rate limiting, CSRF and the session cookie."""

import pytest

from tests.conftest import assert_api_error, csrf_token, form_csrf


def test_session_starts_anonymous_with_a_csrf_token(client):
    body = client.get("/api/v1/session").get_json()
    assert body["user"] is None
    assert len(body["csrf_token"]) > 20


def test_api_sign_in_returns_the_user_and_keeps_the_session(client, make_user):
    user = make_user(role="instructor", username="sokha", display_name="សុខា")
    response = client.post(
        "/api/v1/session",
        json={"username": "SOKHA", "password": "lotus-pond-7"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200
    assert response.get_json()["user"] == {
        "id": user.id,
        "username": "sokha",
        "display_name": "សុខា",
        "role": "instructor",
        "language": None,
    }
    assert client.get("/api/v1/session").get_json()["user"]["username"] == "sokha"


def test_api_sign_out_forgets_the_user(client, login_as):
    login_as("learner")
    response = client.delete("/api/v1/session", headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 200
    assert response.get_json()["user"] is None
    assert client.get("/api/v1/session").get_json()["user"] is None


def test_wrong_password_is_refused(client, make_user):
    make_user(username="dara")
    response = client.post(
        "/api/v1/session",
        json={"username": "dara", "password": "wrong-one"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert_api_error(response, 401, "bad_credentials")
    assert client.get("/api/v1/session").get_json()["user"] is None


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client):
    response = client.post(
        "/api/v1/session",
        json={"username": "nobody", "password": "whatever1"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert_api_error(response, 401, "bad_credentials")


def test_deactivated_account_cannot_sign_in(client, make_user):
    from edge_server import accounts

    user = make_user(username="gone")
    accounts.update_user(user, active=False)
    response = client.post(
        "/api/v1/session",
        json={"username": "gone", "password": "lotus-pond-7"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert_api_error(response, 401, "bad_credentials")


def test_malformed_sign_in_body_is_a_400(client):
    response = client.post(
        "/api/v1/session", data="nope", headers={"X-CSRFToken": csrf_token(client)}
    )
    assert_api_error(response, 400, "invalid_body")


def test_page_sign_in_and_sign_out(client, make_user):
    make_user(role="admin", username="boss")
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"username": "boss", "password": "lotus-pond-7", "csrf_token": form_csrf(page)},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")
    home = client.get("/admin/").get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": form_csrf(home)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302  # back to the sign-in page


def test_page_wrong_password_shows_a_khmer_message(client, make_user):
    make_user(username="dara")
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"username": "dara", "password": "bad-bad-bad", "csrf_token": form_csrf(page)},
    )
    assert response.status_code == 401
    assert "ឈ្មោះអ្នកប្រើ ឬពាក្យសម្ងាត់មិនត្រឹមត្រូវ" in response.get_data(as_text=True)


def test_sign_in_never_redirects_off_site(client, make_user):
    make_user(role="admin", username="boss")
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": "boss", "password": "lotus-pond-7", "csrf_token": form_csrf(page)},
    )
    assert "evil.example" not in response.headers["Location"]


def test_rate_limit_blocks_repeated_attempts(client, make_user):
    make_user(username="dara")
    token = csrf_token(client)
    statuses = [
        client.post(
            "/api/v1/session",
            json={"username": "dara", "password": f"guess-{i}"},
            headers={"X-CSRFToken": token},
        ).status_code
        for i in range(11)
    ]
    assert statuses[:10] == [401] * 10
    response = client.post(
        "/api/v1/session",
        json={"username": "dara", "password": "lotus-pond-7"},
        headers={"X-CSRFToken": token},
    )
    error = assert_api_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    assert "រង់ចាំ" in error["message"]  # "wait", in the Khmer of a fresh site


def test_rate_limit_is_per_username(client, make_user):
    make_user(username="dara")
    make_user(username="sokha")
    token = csrf_token(client)
    for i in range(12):
        client.post(
            "/api/v1/session",
            json={"username": "dara", "password": f"guess-{i}"},
            headers={"X-CSRFToken": token},
        )
    response = client.post(
        "/api/v1/session",
        json={"username": "sokha", "password": "lotus-pond-7"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/api/v1/session", {"json": {"username": "a", "password": "b"}}),
        ("delete", "/api/v1/session", {}),
    ],
)
def test_api_calls_without_csrf_token_are_refused(client, method, path, kwargs):
    response = getattr(client, method)(path, **kwargs)
    assert_api_error(response, 400, "csrf_failed")


def test_form_without_csrf_token_is_refused_with_a_page(client, make_user):
    make_user(username="dara")
    response = client.post("/login", data={"username": "dara", "password": "lotus-pond-7"})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert client.get("/api/v1/session").get_json()["user"] is None


def test_session_cookie_is_httponly_and_lax(client, login_as):
    login_as("learner")
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_rate_limit_is_shared_by_every_server_process(app, app_config, make_user):
    # A second app on the same data home stands for a second worker process.
    from edge_server import create_app

    make_user(username="dara")
    other = create_app(app_config)
    clients = [app.test_client(), other.test_client()]
    tokens = [csrf_token(c) for c in clients]
    for i in range(10):
        c = clients[i % 2]
        c.post(
            "/api/v1/session",
            json={"username": "dara", "password": f"guess-{i}"},
            headers={"X-CSRFToken": tokens[i % 2]},
        )
    for c, token in zip(clients, tokens, strict=True):
        response = c.post(
            "/api/v1/session",
            json={"username": "dara", "password": "lotus-pond-7"},
            headers={"X-CSRFToken": token},
        )
        assert_api_error(response, 429, "rate_limited")


def test_bad_rate_limit_setting_is_refused_at_start(app_config):
    from edge_server import create_app
    from edge_server.base.errors import ConfigError

    with pytest.raises(ConfigError, match="10 per minute"):
        create_app({**app_config, "auth.login_limit": "ten a minute"})
