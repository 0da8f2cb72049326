"""Shared fixtures: an app on a fresh data home, clients, sign-in helpers, factories."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_server import create_app
from edge_server.base.db import db, sqlite_info

_seq = itertools.count(1)

# The factories' password: it passes Kru's password rule (8+ characters, not common).
PASSWORD = "lotus-pond-7"

# Cheap hashing in tests: the real cost is measured in bench/.
FAST_HASH = {"auth.hash_memory_kib": 1024, "auth.hash_time_cost": 1}


def pytest_report_header(config: pytest.Config) -> list[str]:
    info = sqlite_info()
    return [f"SQLite {info['sqlite_version']}, FTS5 trigram: {info['fts5_trigram']}"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "kru-home"


@pytest.fixture
def app_config(data_dir: Path) -> dict:
    """Settings and Flask keys for the test app; tests may change it before ``app``."""
    return {"data_dir": str(data_dir), "TESTING": True, **FAST_HASH}


@pytest.fixture
def app(app_config: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    for var in [
        v for v in __import__("os").environ if v.startswith("KRU_") and v != "KRU_TEST_DATABASE_URL"
    ]:
        monkeypatch.delenv(var)
    application = create_app(app_config)
    db.connect(reuse_if_open=True)
    yield application
    if not db.is_closed():
        db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable:
    """Run ``kru`` with ``--data-dir`` set; returns click's Result."""
    from edge_server.cli.main import get_cli

    monkeypatch.setenv("KRU_AUTH_HASH_MEMORY_KIB", "1024")
    monkeypatch.setenv("KRU_AUTH_HASH_TIME_COST", "1")

    def run(*args: str, input: str | bytes | None = None):
        result = CliRunner().invoke(
            get_cli(), ["--data-dir", str(data_dir), *args], input=input, catch_exceptions=False
        )
        if not db.is_closed():
            db.close()
        return result

    return run


@pytest.fixture
def make_user(app) -> Callable:
    """Create a user with defaults: ``make_user(role="instructor", username="t1")``."""
    from edge_server import accounts

    def make(role: str = "learner", password: str = PASSWORD, **overrides):
        username = overrides.pop("username", f"{role}{next(_seq)}")
        return accounts.create_user(username, password, role=role, **overrides)

    return make


@pytest.fixture
def make_cohort(app) -> Callable:
    from edge_server import accounts

    def make(name: str | None = None, learners=(), instructors=()):
        cohort = accounts.create_cohort(name or f"Cohort {next(_seq)}")
        for user in [*learners, *instructors]:
            accounts.add_to_cohort(cohort, user)
        return cohort

    return make


def csrf_token(client) -> str:
    """Return the CSRF token of ``client``'s session (from the JSON API)."""
    return client.get("/api/v1/session").get_json()["csrf_token"]


def form_csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


@pytest.fixture
def login_as(client, make_user) -> Callable:
    """Sign ``client`` in as a new user of ``role`` (or as ``user``); returns the user."""

    def login(role: str = "learner", user=None, password: str = PASSWORD):
        user = user or make_user(role=role, password=password)
        token = csrf_token(client)
        response = client.post(
            "/api/v1/session",
            json={"username": user.username, "password": password},
            headers={"X-CSRFToken": token},
        )
        assert response.status_code == 200, response.get_json()
        return user

    return login


def api_headers(client) -> dict[str, str]:
    return {"X-CSRFToken": csrf_token(client)}


def assert_api_error(response, status: int, code: str | None = None) -> dict:
    """Check the one JSON error shape of the API and return the error object."""
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["code"], str) and re.fullmatch(r"[a-z][a-z0-9_]*", error["code"])
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error
