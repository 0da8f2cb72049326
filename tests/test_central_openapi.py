"""The OpenAPI 3.1 description of the central JSON API: it covers every JSON route of the app
(and describes no route that does not exist), and real responses validate against it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from sync import protocol
from sync.central import openapi, registry
from tests.central_support import make_batch, post, sign_in


@pytest.fixture
def app(public_central_app):
    return public_central_app


JSON_ROUTE = re.compile(r"^/api/|^/healthz$")
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def described() -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in openapi.document()["paths"].items()
        for method in item
    }


def routes(flask_app) -> set[tuple[str, str]]:
    found = set()
    for rule in flask_app.url_map.iter_rules():
        if JSON_ROUTE.search(rule.rule):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            found |= {(path, m) for m in rule.methods - IGNORED_METHODS}
    return found


def test_every_json_route_is_described_and_every_description_is_a_route(app):
    assert routes(app) - described() == set(), "routes missing from openapi.json"
    assert described() - routes(app) == set(), "openapi.json describes routes that do not exist"


def test_the_document_is_served_and_is_the_one_in_docs(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == openapi.document()
    assert response.get_json()["openapi"] == "3.1.0"
    docs = Path(__file__).resolve().parent.parent / "docs" / "central-openapi.json"
    assert docs.resolve() == openapi.DOCUMENT


def test_every_reference_resolves():
    doc = openapi.document()
    text = str(doc)
    for ref in set(re.findall(r"'\$ref': '#/([^']+)'", text)):
        node = doc
        for part in ref.split("/"):
            node = node[part]  # KeyError names a dangling reference


def check(path: str, method: str, response) -> None:
    """Validate ``response``'s JSON body against what openapi.json says for its status."""
    doc = openapi.document()
    answers = doc["paths"][path][method.lower()]["responses"]
    assert str(response.status_code) in answers, (path, method, response.status_code)
    schema = answers[str(response.status_code)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    errors = [e.message for e in validator.iter_errors(response.get_json())]
    assert errors == [], (path, method, errors)


def test_real_responses_validate_against_the_description(app):
    client = app.test_client()
    site = registry.add_device("TEC Kandal", "http://central.example", "Kandal").device
    check("/api/v1/sync/batches", "POST", post(client, site, make_batch(site.device_id)))
    refused = post(client, site, make_batch(site.device_id, after=3), secret="0" * 64)
    check("/api/v1/sync/batches", "POST", refused)
    headers = protocol.signed_headers(
        site.secret, "GET", protocol.HELLO_PATH, site.device_id, "-", b"", 1
    )
    check("/api/v1/sync/hello", "GET", client.get(protocol.HELLO_PATH, headers=headers))
    check("/healthz", "GET", client.get("/healthz"))
    check("/api/v1/devices", "GET", client.get("/api/v1/devices"))  # 401
    check("/api/v1/session", "GET", client.get("/api/v1/session"))
    sign_in(client)
    check("/api/v1/session", "GET", client.get("/api/v1/session"))
    for path in (
        "/api/v1/devices",
        "/api/v1/completion",
        "/api/v1/xapi/statements",
        "/api/v1/competencies",
    ):
        response = client.get(path)
        assert response.status_code == 200
        check(path, "GET", response)
    check("/api/v1/xapi/statements", "GET", client.get("/api/v1/xapi/statements?limit=0"))
    check("/api/v1/certificates/{code}", "GET", client.get("/api/v1/certificates/NOPE"))


@pytest.mark.parametrize("status", ["401", "403", "409"])
def test_errors_use_the_one_error_shape(status):
    doc = openapi.document()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if status in op["responses"]:
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, method)
