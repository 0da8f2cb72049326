"""Every endpoint of the site and central servers caps its body before parsing it.

The live-server side (waitress refusing a body over its route's cap as its headers arrive,
never reading or spooling it) is in tests/test_route_caps_live.py,
tests/test_uploads_live.py and tests/test_central_live_limits.py.
"""

from __future__ import annotations

import io
import re

import pytest
from markupsafe import escape
from werkzeug.routing import Rule

from edge_server.base import uploads
from edge_server.site.blueprints.packs import ONE_REQUEST_BYTES
from edge_server.web import bodylimit
from edge_server.web.i18n import load_catalog
from sync import protocol
from tests.conftest import api_headers, assert_api_error

BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
SPECIAL = {
    "packs.api_upload": (ONE_REQUEST_BYTES, "pack_too_large"),
    "uploads.append": (uploads.CHUNK_BYTES, "body_too_large"),
    "tasks.api_submit": (ONE_REQUEST_BYTES, "body_too_large"),
    "tasks.submit_page": (ONE_REQUEST_BYTES, "body_too_large"),
    "authoring.api_media": (ONE_REQUEST_BYTES, "body_too_large"),
    "central_sync.batches": (protocol.MAX_BODY_BYTES, protocol.E_BATCH_TOO_LARGE),
    "fleet.add": (64 * 1024 * 1024, "pack_too_large"),
    "releases.add": (256 * 1024 * 1024, "release_too_large"),
    "central_sync.status": (protocol.MAX_STATUS_BYTES, protocol.E_BAD_STATUS),
}


@pytest.fixture
def central_app(tmp_path, monkeypatch):
    from sync.central import create_app
    from sync.central.db import database

    for var in [v for v in __import__("os").environ if v.startswith("KRU_")]:
        monkeypatch.delenv(var)
    app = create_app({"data_dir": str(tmp_path / "central"), "TESTING": True})
    database.connect(reuse_if_open=True)
    yield app
    if not database.is_closed():
        database.close()


def _url(rule: Rule) -> str:
    return re.sub(r"<(?:int:)?[^>]+>", lambda m: "1" if "int:" in m.group(0) else "x", rule.rule)


def _routes(app) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(set(rule.methods or ()) & set(BODY_METHODS)):
            found.append((rule.endpoint, method, _url(rule)))
    return found


def _check_every_route(app) -> int:
    """Send each body-taking route one byte more than its cap, signed out; count them."""
    client = app.test_client()
    checked = 0
    for endpoint, method, url in _routes(app):
        cap, code = SPECIAL.get(endpoint, (bodylimit.DEFAULT_BYTES, "body_too_large"))
        response = client.open(
            url, method=method, data=b"{" * (cap + 1), content_type="application/json"
        )
        assert response.status_code == 413, (endpoint, response.status_code)
        if url.startswith("/api/"):
            assert_api_error(response, 413, code)
        else:
            assert response.mimetype == "text/html", endpoint
        checked += 1
    return checked


def test_every_site_endpoint_refuses_a_body_over_its_cap(app):
    assert _check_every_route(app) > 20


def test_every_central_endpoint_refuses_a_body_over_its_cap(central_app):
    assert _check_every_route(central_app) > 3


def test_no_site_route_takes_more_than_one_chunk(app):
    assert bodylimit.largest(app) == ONE_REQUEST_BYTES
    assert uploads.CHUNK_BYTES >= 8 * 1024 * 1024
    assert ONE_REQUEST_BYTES - uploads.CHUNK_BYTES <= 64 * 1024


def test_central_takes_at_most_one_batch_or_one_pack_or_release_upload(central_app):
    from sync.central.views_fleet import MAX_PAGE_UPLOAD
    from sync.central.views_releases import MAX_PAGE_UPLOAD as MAX_RELEASE_UPLOAD

    assert bodylimit.largest(central_app) == max(
        protocol.MAX_BODY_BYTES, MAX_PAGE_UPLOAD, MAX_RELEASE_UPLOAD
    )


@pytest.mark.parametrize("path", ["/api/v1/session", "/api/v1/events"])
def test_a_json_body_at_the_cap_is_parsed_as_usual(client, path):
    body = b'{"x": "' + b"a" * (bodylimit.DEFAULT_BYTES - 20) + b'"}'
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code in (400, 401)  # read and judged as usual, not 413


def test_a_body_without_a_length_is_cut_at_the_cap(client):
    response = client.post(
        "/api/v1/session",
        input_stream=io.BytesIO(b"{" * (bodylimit.DEFAULT_BYTES + 10)),
        environ_overrides={"wsgi.input_terminated": True},  # as waitress says
        headers={
            "Transfer-Encoding": "chunked",
            "Content-Type": "application/json",
            **api_headers(client),
        },
    )
    assert_api_error(response, 413, "body_too_large")


def test_the_page_error_is_in_the_users_language(client):
    response = client.post("/login", data=b"x" * (bodylimit.DEFAULT_BYTES + 1))
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    khmer = load_catalog("km").gettext(bodylimit.DEFAULT.message)
    assert khmer != bodylimit.DEFAULT.message
    assert escape(khmer % {"limit": 1}) in html


def test_route_cap_gives_each_routes_own_cap(app, central_app):
    from sync.central.views_releases import MAX_PAGE_UPLOAD as MAX_RELEASE_UPLOAD

    site, central = bodylimit.route_cap(app), bodylimit.route_cap(central_app)
    assert site("POST", "/api/v1/packs") == ONE_REQUEST_BYTES
    assert site("PATCH", "/api/v1/uploads/abc") == uploads.CHUNK_BYTES
    assert site("POST", "/api/v1/events") == bodylimit.DEFAULT_BYTES
    assert site("POST", "/login") == bodylimit.DEFAULT_BYTES
    assert site("GET", "/no/such/page") == bodylimit.DEFAULT_BYTES
    assert site("DELETE", "/api/v1/events") == bodylimit.DEFAULT_BYTES  # a method not allowed
    assert central("POST", protocol.BATCHES_PATH) == protocol.MAX_BODY_BYTES
    assert central("POST", protocol.STATUS_PATH) == protocol.MAX_STATUS_BYTES
    assert central("POST", "/fleet/releases/add") == MAX_RELEASE_UPLOAD
    assert central("POST", "/api/v1/session") == bodylimit.DEFAULT_BYTES


def test_a_request_the_server_refused_gets_the_routes_413_unread(client):
    """The server marks a body it refused (``bodycap.REFUSED``): the app answers 413 with
    the route's code whatever the Content-Length says, and never reads the body."""
    from edge_server.base.bodycap import REFUSED

    class Unreadable(io.BytesIO):
        def read(self, size=-1):
            raise AssertionError("the body of a refused request was read")

        readline = read1 = read

    response = client.post(
        "/api/v1/packs",
        input_stream=Unreadable(b"--x\r\n" * 2),
        environ_overrides={REFUSED: True},
        headers={"Content-Length": "10", "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert_api_error(response, 413, "pack_too_large")
