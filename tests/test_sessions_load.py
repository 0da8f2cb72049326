"""The session store reads the signed-in user with a plain cursor (issue 22): the user it
returns is the one peewee's ``raw()`` made, and no read transaction is left open."""

from __future__ import annotations

import time

from edge_server.accounts.models import User
from edge_server.base.db import db


def _store(app):
    return app.extensions["kru_sessions"]


def test_loaded_user_is_what_peewee_raw_makes(app, make_user):
    user = make_user(role="learner", language="en", national_id="T-1")
    store = _store(app)
    token = store.start(user)
    loaded = store.load(str(user.id), token)
    now = time.time()
    digest = store._digest(token)
    expected = next(iter(list(User.raw(store._user_query_sql(), digest, user.id, now))))
    assert type(loaded) is User
    assert loaded.__data__ == expected.__data__
    assert {k: type(v) for k, v in loaded.__data__.items()} == {
        k: type(v) for k, v in expected.__data__.items()
    }
    assert loaded.session_expires_at == expected.session_expires_at
    assert loaded._dirty == set() and loaded.__rel__ == {}
    assert loaded.active is True and loaded.is_authenticated and loaded.get_id() == str(user.id)
    assert loaded.session_extended is False


def test_loading_leaves_no_read_transaction_open(app, make_user):
    user = make_user()
    store = _store(app)
    token = store.start(user)
    for _ in range(3):
        assert store.load(str(user.id), token).id == user.id
        assert not db.connection().in_transaction
    assert store.load(str(user.id), "not-a-token") is None
    assert not db.connection().in_transaction


def test_a_loaded_user_can_be_saved(app, make_user):
    user = make_user(display_name="Before")
    store = _store(app)
    loaded = store.load(str(user.id), store.start(user))
    loaded.display_name = "After"
    loaded.save()
    assert User.get_by_id(user.id).display_name == "After"


def test_an_inactive_user_is_not_loaded(app, make_user):
    user = make_user()
    store = _store(app)
    token = store.start(user)
    User.update(active=False).where(User.id == user.id).execute()
    assert store.load(str(user.id), token) is None
