"""``migrate.applied`` on both engines: one query on SQLite (``/healthz`` asks it on every
probe), and on PostgreSQL it never runs a query that fails, which would abort the
transaction it runs in (``migrate`` asks it inside one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from peewee import Database, SqliteDatabase
from playhouse.db_url import connect
from playhouse.test_utils import count_queries

from edge_server.base import migrate

RECORDED = ["m0002_second", "m0001_first"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        handle: Database = SqliteDatabase(str(tmp_path / "kru.sqlite3"))
    else:
        handle = connect(request.getfixturevalue("pg_url"))
    handle.connect()
    yield handle
    handle.close()


def _record(database: Database) -> None:
    migrate._ensure_table(database)
    for name in RECORDED:
        database.execute_sql(
            f"INSERT INTO {migrate.TABLE} (name, applied_at) VALUES ({database.param}, 'now')",
            (name,),
        )


def test_a_database_no_migration_ran_on_has_none_applied(database):
    assert migrate.applied(database) == []


def test_the_recorded_migrations_are_applied_oldest_first(database):
    _record(database)
    assert migrate.applied(database) == sorted(RECORDED)


def test_asking_inside_a_transaction_leaves_it_usable(database):
    with database.atomic():
        assert migrate.applied(database) == []
        assert database.execute_sql("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("recorded", [False, True])
def test_sqlite_answers_in_one_query(tmp_path, recorded):
    database = SqliteDatabase(str(tmp_path / "kru.sqlite3"))
    if recorded:
        _record(database)
    with count_queries() as counted:
        migrate.applied(database)
    assert counted.count == 1
