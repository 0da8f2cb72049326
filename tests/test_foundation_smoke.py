from tests.conftest import assert_api_error, csrf_token


def test_login_page_is_khmer_on_a_fresh_install(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert 'lang="km"' in page.get_data(as_text=True)


def test_session_api_sign_in_and_out(client, make_user):
    user = make_user(username="dara", password="secret123")
    body = client.get("/api/v1/session").get_json()
    assert body["user"] is None
    response = client.post(
        "/api/v1/session",
        json={"username": "dara", "password": "secret123"},
        headers={"X-CSRFToken": body["csrf_token"]},
    )
    assert response.status_code == 200
    assert response.get_json()["user"]["id"] == user.id
    response = client.delete("/api/v1/session", headers={"X-CSRFToken": csrf_token(client)})
    assert response.get_json()["user"] is None


def test_wrong_password_is_401_with_error_body(client, make_user):
    make_user(username="dara", password="secret123")
    response = client.post(
        "/api/v1/session",
        json={"username": "dara", "password": "nope-nope"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert_api_error(response, 401, "bad_credentials")
