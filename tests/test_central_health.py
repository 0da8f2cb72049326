"""Central ``/healthz``: database reachable and migrations current, else 503."""

from __future__ import annotations

import pytest

from sync.central.db import database


@pytest.fixture
def app(public_central_app):
    return public_central_app


def test_healthz_is_ok_on_a_migrated_database(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "pending_migrations": []}


def test_healthz_names_a_pending_migration(app):
    database.execute_sql("DELETE FROM kru_migrations WHERE name = 'm0040_lrs_queue'")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["pending_migrations"] == ["m0040_lrs_queue"]


def test_healthz_says_when_the_database_is_unreachable(app, tmp_path):
    from peewee import PostgresqlDatabase

    real = database.obj
    database.initialize(PostgresqlDatabase("nope", host="127.0.0.1", port=1, connect_timeout=2))
    try:
        response = app.test_client().get("/healthz")
    finally:
        database.initialize(real)
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
