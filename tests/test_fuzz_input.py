"""Property tests: whatever text, ids or JSON a client sends, neither server answers 5xx.

Every GET route of the site is asked by each role with odd path parts and query values;
every form route gets odd field values (with a valid CSRF token, so the form is read);
the JSON endpoints get arbitrary JSON. Hypothesis runs derandomized so a failure
reproduces, and it keeps no example database in the work tree.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import api_headers, csrf_token
from tests.learning_catalog import make_catalog
from tests.packs_factory import build_pack, install, lesson

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text as phones and scripts send it: any character, control ones included, and the kinds
# of value that broke Kru before (issue 12) mixed in.
NASTY = [
    "\x00",
    "abc\x00def",
    "http://[",
    "//[::1",
    "9" * 30,
    "-1",
    "1e999",
    "../../etc/passwd",
    "%",
    "'; DROP TABLE users; --",
    '"',
    "=1+1",
    "ក" * 300,
]
TEXT = st.one_of(st.text(st.characters(codec="utf-8"), max_size=80), st.sampled_from(NASTY))
INTS = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2, 2**63, 10**30]))
QUERY_KEYS = ["q", "limit", "course", "role", "next", "lang", "attempt", "page"]
ROLES = ["learner", "instructor", "admin"]
CENTRAL_KEYS = ["limit", "after", "since", "until", "device", "next", "cursor", "lang"]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


def _rules(app, method: str) -> list[Any]:
    skip = ("/static/", "/c/", "/apps/")
    return sorted(
        (
            r
            for r in app.url_map.iter_rules()
            if method in r.methods and not r.rule.startswith(skip)
        ),
        key=lambda r: r.rule,
    )


def _fill(rule, draw) -> str:
    """Return ``rule`` with each ``<...>`` part replaced by a drawn value (quoted)."""
    from urllib.parse import quote

    def part(match: re.Match) -> str:
        if match.group(1) == "int":
            return str(abs(draw(INTS)))
        return quote(draw(TEXT.filter(lambda s: s and "/" not in s)) or "x", safe="")

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", part, rule.rule)


@pytest.fixture
def site(app, make_user, make_cohort, tmp_path):
    make_catalog(open_course=True)
    install(app, build_pack(tmp_path, items=[lesson("reading", body="Reading aloud")]))
    users = {role: make_user(role=role) for role in ROLES}
    make_cohort(learners=[users["learner"]], instructors=[users["instructor"]])
    return users


def _client(app, user):
    client = app.test_client()
    response = client.post(
        "/api/v1/session",
        json={"username": user.username, "password": "lotus-pond-7"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200
    return client


def _fill_with(rule, value: str, number: int) -> str:
    from urllib.parse import quote

    def part(match: re.Match) -> str:
        return str(number) if match.group(1) == "int" else quote(value, safe="")

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", part, rule.rule)


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_no_get_route_answers_5xx_to_known_bad_values(app, site, role):
    """Every GET route, every known bad value in every path part and query key."""
    client = _client(app, site[role])
    failures = []
    for rule in _rules(app, "GET"):
        for value, number in zip(NASTY, [0, 10**30, 2**63, *[1] * len(NASTY)], strict=False):
            url = _fill_with(rule, value or "x", number)
            response = client.get(url, query_string=dict.fromkeys(QUERY_KEYS, value))
            response.close()  # a streamed CSV holds its request context until closed
            if response.status_code >= 500:
                failures.append((url, value, response.status_code))
    assert failures == []


@pytest.mark.parametrize("role", ROLES)
def test_no_get_route_answers_5xx_to_odd_paths_and_queries(app, site, role):
    client = _client(app, site[role])
    rules = _rules(app, "GET")

    @FUZZ
    @given(st.data())
    def check(data) -> None:
        rule = data.draw(st.sampled_from(rules))
        url = _fill(rule, data.draw)
        query = data.draw(st.dictionaries(st.sampled_from(QUERY_KEYS), TEXT, max_size=3))
        response = client.get(url, query_string=query)
        response.close()
        assert response.status_code < 500, (url, query, response.data[:300])

    check()


@pytest.mark.parametrize("role", ROLES)
def test_no_form_answers_5xx_to_odd_fields(app, site, role):
    client = _client(app, site[role])
    rules = [r for r in _rules(app, "POST") if not r.rule.startswith("/api/")]
    fields = ["username", "password", "display_name", "role", "language", "name", "course"]
    fields += ["description", "due_date", "lang", "next", "cohort", "active", "attempt_id"]

    @FUZZ
    @given(st.data())
    def check(data) -> None:
        rule = data.draw(st.sampled_from(rules))
        url = _fill(rule, data.draw)
        form = data.draw(st.dictionaries(st.sampled_from(fields), TEXT, max_size=4))
        form["csrf_token"] = csrf_token(client)
        response = client.post(url, data=form)
        assert response.status_code < 500, (url, form, response.data[:300])
        if form.get("username") == site[role].username and "password" in form:
            return  # a form that signs in again is fine either way

    check()


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/session"])
def test_json_endpoints_answer_4xx_not_5xx_to_any_json(app, site, path):
    client = _client(app, site["learner"])

    @FUZZ
    @given(JSON)
    def check(body) -> None:
        response = client.post(
            path,
            data=json.dumps(body),
            content_type="application/json",
            headers=api_headers(client),
        )
        assert response.status_code < 500, (body, response.data[:300])

    check()


def test_no_central_get_route_answers_5xx_to_known_bad_values(central_app):
    from sync.central import registry
    from tests.central_support import sign_in

    registry.add_device("TEC Takeo", "http://central.example", "Takeo")
    client = central_app.test_client()
    sign_in(client, "admin")
    failures = []
    for rule in _rules(central_app, "GET"):
        for value, number in zip(NASTY, [0, 10**30, 2**63, *[1] * len(NASTY)], strict=False):
            url = _fill_with(rule, value or "x", number)
            response = client.get(url, query_string=dict.fromkeys(CENTRAL_KEYS, value))
            response.close()
            if response.status_code >= 500:
                failures.append((url, value, response.status_code))
    assert failures == []
