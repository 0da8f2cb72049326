"""What a site admin does on the pages: accounts, passwords, deactivation, cohorts."""

from edge_server import accounts
from edge_server.accounts.models import User
from tests.conftest import form_csrf


def _post(client, path, data):
    page = client.get(path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": form_csrf(page), **data})


def test_admin_creates_an_account_in_a_cohort(client, login_as, make_cohort):
    login_as("admin")
    cohort = make_cohort("Class A")
    response = _post(
        client,
        "/admin/users/new",
        {
            "username": "Vichet",
            "password": "lotus-pond-7",
            "display_name": "វិចិត្រ",
            "role": "learner",
            "cohort_id": cohort.id,
        },
    )
    assert response.status_code == 302
    user = User.get(User.username == "vichet")
    assert user.display_name == "វិចិត្រ"
    assert [u.username for u in accounts.cohort_learners(cohort)] == ["vichet"]


def test_bad_new_account_shows_the_problem_and_creates_nothing(client, login_as):
    login_as("admin")
    response = _post(
        client,
        "/admin/users/new",
        {"username": "x", "password": "lotus-pond-7", "display_name": "Ex"},
    )
    assert response.status_code == 400
    assert "ឈ្មោះអ្នកប្រើ" in response.get_data(as_text=True)
    assert User.select().where(User.username == "x").count() == 0


def test_short_password_is_refused(client, login_as):
    login_as("admin")
    response = _post(client, "/admin/users/new", {"username": "dara", "password": "123"})
    assert response.status_code == 400
    assert User.select().where(User.username == "dara").count() == 0


def test_admin_resets_a_password(client, login_as, make_user):
    login_as("admin")
    learner = make_user(username="dara")
    response = _post(
        client, f"/admin/users/{learner.id}", {"action": "password", "password": "newpass99"}
    )
    assert response.status_code == 302
    assert accounts.authenticate("dara", "newpass99") is not None
    assert accounts.authenticate("dara", "lotus-pond-7") is None


def test_admin_deactivates_and_reactivates(client, login_as, make_user):
    login_as("admin")
    learner = make_user(username="dara")
    _post(client, f"/admin/users/{learner.id}", {"action": "deactivate"})
    assert accounts.authenticate("dara", "lotus-pond-7") is None
    _post(client, f"/admin/users/{learner.id}", {"action": "activate"})
    assert accounts.authenticate("dara", "lotus-pond-7") is not None


def test_admin_edits_name_role_and_language(client, login_as, make_user):
    login_as("admin")
    user = make_user(username="dara")
    _post(
        client,
        f"/admin/users/{user.id}",
        {"action": "save", "display_name": "ដារា", "role": "instructor", "language": "en"},
    )
    user = User.get_by_id(user.id)
    assert (user.display_name, user.role, user.language) == ("ដារា", "instructor", "en")


def test_admin_manages_cohort_members(client, login_as, make_user):
    login_as("admin")
    learner = make_user(username="dara")
    teacher = make_user(role="instructor", username="kru1")
    response = _post(client, "/admin/cohorts", {"name": "ថ្នាក់ B"})
    cohort_path = response.headers["Location"]
    _post(client, cohort_path, {"action": "add", "username": "dara"})
    _post(client, cohort_path, {"action": "add", "username": "kru1"})
    cohort = accounts.get_cohort(name="ថ្នាក់ B")
    assert [u.id for u in accounts.cohort_learners(cohort)] == [learner.id]
    assert [u.id for u in accounts.cohort_instructors(cohort)] == [teacher.id]
    _post(client, cohort_path, {"action": "remove", "username": "dara"})
    assert accounts.cohort_learners(cohort) == []


def test_adding_an_unknown_user_to_a_cohort_says_so(client, login_as, make_cohort):
    login_as("admin")
    cohort = make_cohort("C")
    response = _post(client, f"/admin/cohorts/{cohort.id}", {"action": "add", "username": "ghost"})
    assert response.status_code == 404
    assert "ghost" in response.get_data(as_text=True)


def test_duplicate_cohort_name_is_refused(client, login_as, make_cohort):
    login_as("admin")
    make_cohort("Same")
    response = _post(client, "/admin/cohorts", {"name": "Same"})
    assert response.status_code == 409


def test_language_choice_is_remembered_for_the_user(client, login_as):
    user = login_as("learner")
    page = client.get("/welcome").get_data(as_text=True)
    client.post("/language", data={"lang": "en", "csrf_token": form_csrf(page), "next": "/welcome"})
    assert User.get_by_id(user.id).language == "en"
    assert 'lang="en"' in client.get("/welcome").get_data(as_text=True)


def test_site_page_shows_storage_use(client, login_as, app):
    login_as("admin")
    blob = app.config["KRU_HOME"].content / "ab" / ("ab" + "0" * 62)
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(b"x" * 3_000_000)
    html = client.get("/admin/").get_data(as_text=True)
    assert 'id="storage"' in html
    assert "៣.០ MB" in html  # the content store's 3 MB, in Khmer digits


def test_a_new_account_without_a_name_is_refused_in_khmer(client, login_as):
    login_as("admin")
    response = _post(client, "/admin/users/new", {"username": "noname", "password": "lotus-pond-7"})
    assert response.status_code == 400
    assert "សូមបញ្ចូលឈ្មោះរបស់បុគ្គលនេះ" in response.get_data(as_text=True)
    assert User.select().where(User.username == "noname").count() == 0


def test_a_name_cannot_be_emptied(client, login_as, make_user):
    login_as("admin")
    user = make_user(username="dara", display_name="ដារា")
    response = _post(
        client,
        f"/admin/users/{user.id}",
        {"action": "save", "display_name": "  ", "role": "learner"},
    )
    assert response.status_code == 400
    assert User.get_by_id(user.id).display_name == "ដារា"


def test_search_finds_accounts_by_username_or_khmer_name(client, login_as, make_user):
    login_as("admin")
    make_user(username="dara", display_name="សុខ ដារា")
    make_user(username="sophea", display_name="ចាន់ សុភា")
    by_name = client.get("/admin/users?q=សុភា").get_data(as_text=True)
    assert ">sophea</a>" in by_name and ">dara</a>" not in by_name
    by_username = client.get("/admin/users?q=DAR").get_data(as_text=True)
    assert ">dara</a>" in by_username and ">sophea</a>" not in by_username


def test_make_up_a_password_shows_it_once_and_it_works(client, login_as, make_user):
    import re

    login_as("admin")
    user = make_user(username="dara")
    response = _post(client, f"/admin/users/{user.id}", {"action": "make_password"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    made = re.search(
        r'id="made-password-value" type="text" readonly value="(\d{8})"', response.get_data(True)
    ).group(1)
    assert accounts.authenticate("dara", made) is not None
    assert accounts.authenticate("dara", "lotus-pond-7") is None
    assert made not in client.get(f"/admin/users/{user.id}").get_data(as_text=True)


def test_import_shows_one_slip_per_student(client, login_as):
    import io

    login_as("admin")
    page = client.get("/admin/users/import").get_data(as_text=True)
    rows = "username,display_name,password,cohort\nsokha,សុខា ចាន់,,ថ្នាក់ ខ\nvibol,វិបុល,lotus-pond-7,\n"
    response = client.post(
        "/admin/users/import",
        data={"csrf_token": form_csrf(page), "file": (io.BytesIO(rows.encode()), "c.csv")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert html.count('<li class="slip">') == 2
    assert '<dd class="slip-name">សុខា ចាន់</dd>' in html
    assert '<dd class="slip-cohort">ថ្នាក់ ខ</dd>' in html
    assert '<dd class="slip-password" lang="en">(ពីឯកសារ)</dd>' in html  # vibol's came in the file
