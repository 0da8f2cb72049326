"""Shared fixtures: an app on a fresh data home, clients, sign-in helpers, factories."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
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


# -- servers and databases of their own: every test (and every pytest-xdist worker) --------


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this test, ``kru_test_<worker>_<random>``, dropped after.

    KRU_TEST_DATABASE_URL names the server (and a database to connect to for CREATE
    DATABASE); each test gets its own database there, so xdist workers never share one.
    """
    from tests.sync_support import pg_base_url, pg_database

    base = pg_base_url()
    if not base:
        pytest.skip("KRU_TEST_DATABASE_URL is not set (export it to run PostgreSQL tests)")
    with pg_database(base) as url:
        yield url


@pytest.fixture
def live_site(tmp_path: Path) -> Iterator[Callable]:
    """Start ``kru serve`` on a free port: ``live_site(args=("--workers", "2"), env={...})``.

    Each call gets its own data home under the test's ``tmp_path`` (or ``data_dir``); every
    server is killed after the test.
    """
    from tests.livesite import LiveSite

    started: list[LiveSite] = []

    def start(args=(), env: dict | None = None, data_dir: Path | None = None) -> LiveSite:
        home = data_dir or tmp_path / f"home{len(started) or ''}"
        site = LiveSite(home, args, env)
        started.append(site)
        return site.start()

    yield start
    for site in started:
        site.kill()


@pytest.fixture
def central(tmp_path: Path) -> Iterator:
    """``kru central serve`` on a free port with its own data home (SQLite)."""
    from tests.sync_support import CentralServer

    server = CentralServer(tmp_path / "central").start()
    yield server
    server.stop()


@pytest.fixture
def make_central_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable]:
    """Build the central app on the test's data home: ``make_central_app(**settings)``."""
    from sync.central import create_app
    from sync.central.db import database

    for var in [v for v in os.environ if v.startswith("KRU_")]:
        monkeypatch.delenv(var)

    def make(**settings):
        config = {"data_dir": str(tmp_path / "central"), "TESTING": True, **FAST_HASH}
        application = create_app({**config, **settings})
        database.connect(reuse_if_open=True)
        return application

    yield make
    if not database.is_closed():
        database.close()


@pytest.fixture
def central_app(make_central_app: Callable):
    """The central app on SQLite in the test's data home."""
    return make_central_app()


@pytest.fixture
def public_central_app(make_central_app: Callable):
    """The central app with a public URL (``https://kru.example.gov.kh/``): xAPI ids need one."""
    from tests.central_support import PUBLIC

    return make_central_app(**{"central.public_url": PUBLIC + "/"})


@pytest.fixture(scope="session")
def ralph_python() -> Path:
    """The Python of Ralph's own virtualenv (made on first use; see tests/ralph_support.py)."""
    from tests.ralph_support import ralph_venv

    return ralph_venv()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres])])
def central_on_both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple]:
    """``kru central serve`` on SQLite, then on a fresh PostgreSQL database: (server, url)."""
    from tests.sync_support import CentralServer

    with ExitStack() as stack:
        url = ""
        if request.param == "postgres":
            url = request.getfixturevalue("pg_url")
        server = CentralServer(tmp_path / "central", database_url=url).start()
        stack.callback(server.stop)
        yield server, url
