"""``db.raw_models`` makes what peewee's ``Model.raw`` makes, without its wrappers (issue 22)."""

from __future__ import annotations

import pytest

from edge_server.accounts.models import User, UserSession
from edge_server.base.db import db, raw_models


def _same(made, expected) -> None:
    assert [type(m) for m in made] == [type(e) for e in expected]
    for m, e in zip(made, expected, strict=True):
        assert m.__data__ == e.__data__
        assert {k: type(v) for k, v in m.__data__.items()} == {
            k: type(v) for k, v in e.__data__.items()
        }
        assert m._dirty == set() and m.__rel__ == {}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM users WHERE id >= ? ORDER BY id",
        'SELECT "t1"."id", "t1"."active", "t1"."language", 7 AS extra FROM users AS t1 '
        "WHERE t1.id >= ? ORDER BY t1.id",
    ],
)
def test_rows_are_what_peewee_raw_makes(app, make_user, sql):
    make_user()
    other = make_user(language="en")
    User.update(active=False, language=None).where(User.id == other.id).execute()
    made = raw_models(User, sql, (1,))
    expected = list(User.raw(sql, 1))
    assert len(made) == 2
    _same(made, expected)
    for m, e in zip(made, expected, strict=True):
        assert getattr(m, "extra", None) == getattr(e, "extra", None)
    assert made[1].active is False and made[1].language is None


def test_a_foreign_key_column_becomes_its_field(app, make_user):
    user = make_user()
    app.extensions["kru_sessions"].start(user)
    sql = "SELECT * FROM user_sessions WHERE user_id = ?"
    made = raw_models(UserSession, sql, (user.id,))
    _same(made, list(UserSession.raw(sql, user.id)))
    assert made[0].user_id == user.id and made[0].user.username == user.username


def test_no_rows_and_no_transaction_left_open(app, make_user):
    make_user()
    assert raw_models(User, "SELECT * FROM users WHERE id = ?", (-1,)) == []
    assert len(raw_models(User, "SELECT * FROM users", ())) == 1
    assert not db.connection().in_transaction
