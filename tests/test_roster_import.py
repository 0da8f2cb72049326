"""Bulk import of a class list from CSV: good files, bad rows by line number, nothing half-done."""

import io

import pytest

from edge_server import accounts
from edge_server.accounts import roster
from edge_server.accounts.models import Cohort, User
from edge_server.base.errors import ValidationError
from tests.conftest import form_csrf

GOOD = (
    "username,display_name,password,role,cohort,language\n"
    "dara,សុខ ដារា,lotus-pond-7,learner,ថ្នាក់ A,km\n"
    "sophea,ចាន់ សុភា,,learner,ថ្នាក់ A,\n"
    "teacher1,គ្រូ វិចិត្រ,lotus-pond-7,instructor,ថ្នាក់ A,en\n"
)

BAD = (
    "username,display_name,password\n"
    "dara,សុខ ដារា,lotus-pond-7\n"
    "bad name!,ឈ្មោះ,lotus-pond-7\n"
    "sophea,,lotus-pond-7\n"
    "dara,again,lotus-pond-7\n"
)


def usernames():
    return sorted(u for (u,) in User.select(User.username).tuples())


def test_good_file_creates_accounts_and_cohort(app):
    result = roster.import_roster(GOOD.encode())
    assert [u for u, _ in result.created] == ["dara", "sophea", "teacher1"]
    assert usernames() == ["dara", "sophea", "teacher1"]
    cohort = Cohort.get(Cohort.name == "ថ្នាក់ A")
    assert {u.username for u in accounts.cohort_learners(cohort)} == {"dara", "sophea"}
    assert [u.username for u in accounts.cohort_instructors(cohort)] == ["teacher1"]
    assert accounts.authenticate("dara", "lotus-pond-7") is not None


def test_missing_password_is_generated_and_works(app):
    result = roster.import_roster(GOOD.encode())
    generated = dict(result.created)["sophea"]
    assert generated and len(generated) == 8
    assert accounts.authenticate("sophea", generated) is not None


def test_utf8_bom_from_excel_is_accepted(app):
    result = roster.import_roster("\ufeff".encode() + GOOD.encode())
    assert len(result.created) == 3


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(app):
    with pytest.raises(roster.RosterError) as info:
        roster.import_roster(BAD.encode())
    lines = [p.line for p in info.value.problems]
    assert lines == [3, 4, 5]
    assert "appears twice" in info.value.problems[2].message
    assert usernames() == []


def test_skip_bad_rows_imports_the_good_ones(app):
    result = roster.import_roster(BAD.encode(), skip_bad_rows=True)
    assert [u for u, _ in result.created] == ["dara"]
    assert [p.line for p in result.problems] == [3, 4, 5]
    assert usernames() == ["dara"]


def test_existing_username_is_a_bad_row(app, make_user):
    make_user(username="dara")
    with pytest.raises(roster.RosterError) as info:
        roster.import_roster(GOOD.encode())
    assert [p.line for p in info.value.problems] == [2]
    assert usernames() == ["dara"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("សុខ,ដារា\n".encode("utf-16"), "not_utf8"),
        (b"name,password\nx,y\n", "bad_header"),
        (b"username,display_name,shoe_size\nx,y,42\n", "bad_header"),
        (b"username,display_name\n", "empty_file"),
    ],
)
def test_unusable_files_are_refused(app, data, code):
    with pytest.raises(ValidationError) as info:
        roster.import_roster(data)
    assert info.value.code == code
    assert usernames() == []


def test_admin_page_shows_bad_rows_with_line_numbers(client, login_as):
    login_as("admin")
    page = client.get("/admin/users/import").get_data(as_text=True)
    response = client.post(
        "/admin/users/import",
        data={"csrf_token": form_csrf(page), "file": (io.BytesIO(BAD.encode()), "class.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="problems"' in html
    for line in ("៣", "៤", "៥"):  # line numbers in Khmer digits
        assert f"<td>{line}</td>" in html
    assert User.select().where(User.username == "dara").count() == 0


def test_admin_page_imports_with_the_checkbox(client, login_as):
    login_as("admin")
    page = client.get("/admin/users/import").get_data(as_text=True)
    response = client.post(
        "/admin/users/import",
        data={
            "csrf_token": form_csrf(page),
            "skip_bad_rows": "1",
            "file": (io.BytesIO(BAD.encode()), "class.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert User.select().where(User.username == "dara").count() == 1


def test_cli_import_reports_lines_on_stderr_and_exits_1(runner, tmp_path):
    path = tmp_path / "class.csv"
    path.write_text(BAD, encoding="utf-8")
    result = runner("user", "import", str(path))
    assert result.exit_code == 1
    assert "line 3:" in result.stderr
    assert "nothing was imported" in result.stderr
    listed = runner("user", "list")
    assert "dara" not in listed.stdout


def test_cli_import_good_file_prints_generated_passwords(runner, tmp_path):
    path = tmp_path / "class.csv"
    path.write_text(GOOD, encoding="utf-8-sig")
    result = runner("user", "import", str(path))
    assert result.exit_code == 0, result.stderr
    lines = dict(
        line.split("\t") if "\t" in line else (line, "")
        for line in result.stdout.split("\n")
        if line
    )
    assert set(lines) == {"dara", "sophea", "teacher1"}
    assert len(lines["sophea"]) == 8


def test_export_round_trips_into_a_new_site(client, login_as, make_cohort, tmp_path):
    roster.import_roster(GOOD.encode())
    login_as("admin", user=None)
    response = client.get("/admin/users.csv")
    assert response.status_code == 200
    data = response.get_data()
    assert data.startswith("\ufeff".encode())  # Excel reads Khmer names as UTF-8
    text = data.decode("utf-8-sig")
    assert "dara,សុខ ដារា,learner,ថ្នាក់ A,km" in text
    assert "teacher1,គ្រូ វិចិត្រ,instructor,ថ្នាក់ A,en" in text
    assert "lotus-pond-7" not in text and "argon2" not in text

    from edge_server.accounts.models import User

    User.delete().where(User.role != "admin").execute()  # as if on a fresh site
    keep = [line for line in text.splitlines() if not line.split(",")[2:3] == ["admin"]]
    result = roster.import_roster("\n".join(keep).encode())
    assert sorted(u for u, _ in result.created) == ["dara", "sophea", "teacher1"]


def test_export_is_for_admins_only(client, login_as):
    login_as("instructor")
    assert client.get("/admin/users.csv").status_code == 403


def test_cli_export_writes_the_class_list(runner, tmp_path):
    path = tmp_path / "class.csv"
    path.write_text(GOOD, encoding="utf-8")
    runner("user", "import", str(path))
    out = tmp_path / "out.csv"
    result = runner("user", "export", "-o", str(out))
    assert result.exit_code == 0
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "username,display_name,role,cohort,language"
    assert len(lines) == 4
