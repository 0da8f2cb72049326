"""Bad input never gets a 500: NUL in a search, JSON nested 5,000 deep, a Host no URL can
hold, huge ids, broken ``next`` links and lesson links. Each gets a 4xx in the one JSON
error shape (API) or the error page (pages), and changes nothing."""

from __future__ import annotations

import gzip
import http.client
import json

import pytest

from content_packs.errors import InvalidPack
from sync import protocol
from sync.central import registry
from sync.central.models import CentralEvent
from tests.central_support import make_batch, post
from tests.conftest import api_headers, assert_api_error, csrf_token
from tests.learning_catalog import LESSON, ev, make_catalog
from tests.livesite import LiveSite
from tests.packs_factory import build_pack, install, lesson
from tests.packs_helpers import rewrite, snapshot

DEEP = "[" * 5000 + "]" * 5000
DEEP_CONTEXT_EVENT = ev("completed", LESSON, context={"deep": json.loads("[" * 40 + "]" * 40)})
LONG_LABEL_HOST = "a" * 64 + ".kru.example"


def assert_error_page(response, status: int) -> str:
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<main id="main">' in html  # the site's own error page, not a bare server error
    return html


@pytest.fixture
def searchable(app, tmp_path):
    install(app, build_pack(tmp_path, items=[lesson("reading", body="Reading aloud every day")]))


# --- NUL and other control characters in a search ---------------------------------------


@pytest.mark.parametrize("query", ["abc\x00def", "reading\x00", "\x00", "re\x1bading"])
def test_control_characters_in_the_search_api_are_a_400(client, login_as, searchable, query):
    login_as("learner")
    response = client.get("/api/v1/search", query_string={"q": query})
    assert_api_error(response, 400, "invalid_query")


def test_nul_in_the_search_page_shows_the_error_page(client, login_as, searchable):
    login_as("learner")
    assert_error_page(client.get("/search", query_string={"q": "abc\x00def"}), 400)


def test_a_tab_in_a_search_is_a_space(client, login_as, searchable):
    login_as("learner")
    hits = client.get("/api/v1/search", query_string={"q": "reading\taloud"}).get_json()
    assert [h["key"] for h in hits["hits"]] == ["demo-pack/reading"]


# --- JSON nested 5,000 deep, on every JSON endpoint -------------------------------------


def test_deep_json_sign_in_is_a_400(client):
    response = client.post(
        "/api/v1/session",
        data=DEEP,
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert_api_error(response, 400, "invalid_body")


@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        '{"events": ' + DEEP + "}",
        json.dumps({"events": [DEEP_CONTEXT_EVENT]}),
    ],
    ids=["bare", "in-events", "in-a-context"],
)
def test_deep_json_events_are_a_400_and_store_nothing(app, client, login_as, body):
    from edge_server.learning.models import Event

    make_catalog(open_course=True)
    login_as("learner")
    response = client.post(
        "/api/v1/events", data=body, content_type="application/json", headers=api_headers(client)
    )
    error = assert_api_error(response, 400)
    assert error["code"] in ("invalid_body", "invalid_batch", "json_too_deep")
    assert Event.select().count() == 0


def test_events_nested_a_little_are_still_accepted(app, client, login_as):
    make_catalog(open_course=True)
    login_as("learner")
    event = ev("completed", LESSON, {"duration_s": 5}, context={"a": {"b": {"c": [[1]]}}})
    response = client.post(
        "/api/v1/events",
        data=json.dumps({"events": [event]}),
        content_type="application/json",
        headers=api_headers(client),
    )
    assert response.status_code == 200, response.get_json()


def test_deep_json_sign_in_on_central_is_a_400(central_app):
    client = central_app.test_client()
    response = client.post(
        "/api/v1/session",
        data=DEEP,
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert_api_error(response, 400, "invalid_body")


def test_deep_json_in_a_signed_sync_batch_is_refused(central_app):
    device = registry.add_device("TEC Kandal", "http://central.example", "Kandal").device
    batch = make_batch(device.device_id, count=2)
    lines = gzip.decompress(protocol.encode_batch(batch)).split(b"\n")
    lines[2] = DEEP.encode()  # the first event line, from a site that misbehaves
    body = gzip.compress(b"\n".join(lines))
    response = post(central_app.test_client(), device, batch, body=body)
    error = assert_api_error(response, 400, "malformed_batch")
    assert "JSON nested more than 32 deep" in error["message"]
    assert CentralEvent.select().count() == 0


def test_deep_json_in_a_pack_manifest_is_an_invalid_pack(app, tmp_path):
    good = build_pack(tmp_path)
    bad = rewrite(good, tmp_path / "deep.zip", {"manifest.json": DEEP.encode()})
    before = snapshot(app)
    with pytest.raises(InvalidPack) as excinfo:
        install(app, bad)
    assert excinfo.value.code == "manifest_malformed"
    assert snapshot(app) == before


# --- a Host header with a label of 64+ characters ---------------------------------------


@pytest.mark.parametrize("path", ["/login", "/learn/", "/no-such-page"])
def test_long_host_label_on_a_page_shows_the_error_page(client, path):
    assert_error_page(client.get(path, headers={"Host": LONG_LABEL_HOST}), 400)


@pytest.mark.parametrize("path", ["/api/v1/session", "/healthz", "/api/v1/nothing"])
def test_long_host_label_on_the_api_is_a_json_400(client, path):
    assert_api_error(client.get(path, headers={"Host": LONG_LABEL_HOST}), 400, "bad_request")


@pytest.mark.parametrize("path", ["/login", "/api/v1/session"])
def test_long_host_label_on_central_is_a_400(central_app, path):
    response = central_app.test_client().get(path, headers={"Host": LONG_LABEL_HOST})
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert_api_error(response, 400, "bad_request")
    else:
        assert "<main" in response.get_data(as_text=True)


def test_long_host_label_through_waitress_is_a_400_page(tmp_path):
    with LiveSite(tmp_path / "home") as site:
        conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
        conn.request("GET", "/login", headers={"Host": LONG_LABEL_HOST})
        response = conn.getresponse()
        body = response.read().decode()
        conn.close()
    assert response.status == 400
    assert '<main id="main">' in body


# --- ids too large for the database -----------------------------------------------------

HUGE = "9" * 30


@pytest.mark.parametrize(
    "path",
    [
        f"/teach/cohorts/{HUGE}",
        f"/teach/cohorts/{HUGE}/progress.csv",
        f"/admin/users/{HUGE}",
        f"/admin/cohorts/{HUGE}",
    ],
)
def test_huge_ids_in_page_urls_are_404(client, login_as, path):
    login_as("admin")
    assert_error_page(client.get(path), 404)


def test_huge_cohort_id_in_the_api_is_404(client, login_as):
    login_as("admin")
    assert_api_error(client.get(f"/api/v1/cohorts/{HUGE}/progress"), 404)


# --- links that no URL parser accepts ---------------------------------------------------


@pytest.mark.parametrize("target", ["http://[", "//[::1", "/ok\x00"])
def test_a_broken_next_link_is_ignored_on_sign_in(client, target):
    assert client.get("/login", query_string={"next": target}).status_code == 200


def test_a_broken_next_link_is_ignored_on_central_sign_in(central_app):
    response = central_app.test_client().get("/login", query_string={"next": "http://["})
    assert response.status_code == 200


def test_a_broken_next_link_on_language_change_goes_home(client):
    response = client.post(
        "/language", data={"lang": "en", "next": "http://[", "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
