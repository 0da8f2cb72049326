"""The national teacher id (issue 21): a class-list column and an account field on the site,
carried to central in the learner's pseudonymous record (sync protocol 1.4)."""

from __future__ import annotations

import gzip
import json

import pytest

from edge_server import accounts
from edge_server.accounts import people, roster
from edge_server.accounts.models import User
from edge_server.base.errors import Conflict, ValidationError
from sync import protocol
from sync.protocol import Batch, UserRecord

LIST = (
    "username,display_name,cohort,national_id\n"
    "dara,សុខ ដារា,ថ្នាក់ A,nt-2026-0001\n"
    "sophea,ចាន់ សុភា,ថ្នាក់ A,\n"
)


def test_the_class_list_column_sets_the_id_and_the_export_keeps_it(app):
    roster.import_roster(LIST.encode())
    assert User.get(User.username == "dara").national_id == "NT-2026-0001"  # upper case
    assert User.get(User.username == "sophea").national_id == ""
    lines = "".join(roster.export_roster()).lstrip("\ufeff").splitlines()
    assert lines[0].endswith(",national_id")
    assert any(line.startswith("dara,") and line.endswith(",NT-2026-0001") for line in lines)


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ("dara,ដារា,,NT 1\n", "at most 32 letters"),
        ("dara,ដារា,,លេខ១\n", "at most 32 letters"),
        ("dara,ដារា,,NT-1\nsophea,សុភា,,nt-1\n", "appears twice"),
        ("dara,ដារា,,NT-9\n", "belongs to another account"),
    ],
)
def test_a_bad_or_repeated_id_is_a_bad_row_and_nothing_is_imported(app, rows, words):
    accounts.create_user("vichet", "lotus-pond-7", national_id="NT-9")
    with pytest.raises(roster.RosterError) as info:
        roster.import_roster(("username,display_name,password,national_id\n" + rows).encode())
    assert words in info.value.problems[-1].message
    assert [u.username for u in User.select()] == ["vichet"]


def test_an_account_gets_changes_or_loses_its_id(app):
    one = accounts.create_user("dara", "lotus-pond-7")
    accounts.create_user("sophea", "lotus-pond-7", national_id="NT-2")
    accounts.update_user(one, national_id=" nt-1 ")
    assert User.get_by_id(one.id).national_id == "NT-1"
    with pytest.raises(Conflict):
        accounts.update_user(User.get_by_id(one.id), national_id="NT-2")
    with pytest.raises(ValidationError):
        accounts.update_user(User.get_by_id(one.id), national_id="x" * 33)
    assert User.get_by_id(one.id).national_id == "NT-1"  # left as it was
    accounts.update_user(User.get_by_id(one.id), national_id="")
    assert User.get_by_id(one.id).national_id == ""


def test_the_cli_sets_the_id_and_refuses_a_bad_one_in_one_line(runner):
    assert runner("user", "add", "dara", "--password", "lotus-pond-7").exit_code == 0
    assert runner("user", "set", "dara", "--national-id", "NT-7").exit_code == 0
    bad = runner("user", "set", "dara", "--national-id", "NT 7!")
    assert bad.exit_code == 1
    assert len(bad.output.strip().splitlines()) == 1 and "national teacher id" in bad.output


def test_the_account_record_for_sync_carries_the_id(app):
    user = accounts.create_user("dara", "lotus-pond-7", national_id="NT-1")
    other = accounts.create_user("sophea", "lotus-pond-7")
    found = people.people([user.id, other.id])
    assert found[user.id][4] == "NT-1" and found[other.id][4] == ""


def _batch(users: list[UserRecord]) -> Batch:
    return Batch("b" * 24, "site-1", 0, 0, 1, users=users)


def test_the_batch_dictionary_carries_ids_in_a_field_older_receivers_ignore():
    sent = _batch(
        [
            UserRecord("u1", "dara", "ដារា", "learner", "NT-1"),
            UserRecord("u2", "sophea", "សុភា", "learner", ""),
        ]
    )
    body = protocol.encode_batch(sent)
    got = protocol.decode_batch(body)
    assert [(u.uid, u.national_id) for u in got.users] == [("u1", "NT-1"), ("u2", "")]
    dictionary = json.loads(gzip.decompress(body).split(b"\n")[1])
    assert dictionary["national_ids"] == {"u1": "NT-1"}
    assert dictionary["users"][0] == ["u1", "dara", "ដារា", "learner"]  # the 1.3 shape


def test_a_batch_of_an_older_site_says_nothing_about_ids():
    got = protocol.decode_batch(
        protocol.encode_batch(_batch([UserRecord("u1", "d", "ដ", "learner")]))
    )
    assert got.users[0].national_id is None


def test_a_malformed_id_field_makes_the_batch_malformed():
    body = protocol.encode_batch(_batch([UserRecord("u1", "d", "ដ", "learner", "N" * 65)]))
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_batch(body)


def _post(client, path, data):
    from tests.conftest import form_csrf

    page = client.get(path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": form_csrf(page), **data})


def test_the_admin_gives_an_account_its_id_on_the_account_page(client, login_as, make_user):
    login_as("admin")
    dara = make_user(username="dara", display_name="ដារា")
    fields = {"display_name": "ដារា", "role": "learner", "language": ""}
    response = _post(client, f"/admin/users/{dara.id}", {**fields, "national_id": "nt-5"})
    assert response.status_code == 302
    assert User.get_by_id(dara.id).national_id == "NT-5"
    bad = _post(client, f"/admin/users/{dara.id}", {**fields, "national_id": "NT 5!"})
    assert bad.status_code == 400
    assert "លេខសម្គាល់គ្រូជាតិត្រូវមាន" in bad.get_data(as_text=True)  # in Khmer
    assert User.get_by_id(dara.id).national_id == "NT-5"  # left as it was


def test_a_new_account_may_have_an_id_and_not_one_taken(client, login_as, make_user):
    login_as("admin")
    make_user(username="vichet", national_id="NT-9")
    new = {"username": "dara", "password": "lotus-pond-7", "display_name": "ដារា"}
    taken = _post(client, "/admin/users/new", {**new, "national_id": "nt-9"})
    assert taken.status_code == 409
    assert not User.select().where(User.username == "dara").exists()
    assert _post(client, "/admin/users/new", {**new, "national_id": "NT-10"}).status_code == 302
    assert User.get(User.username == "dara").national_id == "NT-10"
