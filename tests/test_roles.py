"""Role boundaries on the foundation's pages: admins only, per cohort for instructors."""

import pytest

from tests.conftest import assert_api_error

ADMIN_PAGES = [
    "/admin/",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/import",
    "/admin/cohorts",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
@pytest.mark.parametrize("role", ["learner", "instructor"])
def test_admin_pages_are_forbidden_to_other_roles(client, login_as, role, path):
    login_as(role)
    response = client.get(path)
    assert response.status_code == 403
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_open_for_admins(client, login_as, path):
    login_as("admin")
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_send_anonymous_visitors_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_learner_cannot_open_another_users_admin_page(client, login_as, make_user):
    other = make_user(role="learner")
    login_as("learner")
    assert client.get(f"/admin/users/{other.id}").status_code == 403


def test_learner_cannot_change_an_account_by_post(client, login_as, make_user):
    from edge_server.accounts.models import User
    from tests.conftest import csrf_token

    other = make_user(role="learner", display_name="Before")
    login_as("learner")
    response = client.post(
        f"/admin/users/{other.id}",
        data={"action": "save", "display_name": "Hacked", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 403
    assert User.get_by_id(other.id).display_name == "Before"


def test_api_reports_forbidden_as_json(app, client, login_as):
    # An API endpoint behind role_required answers with the JSON error shape.
    from flask import Blueprint

    from edge_server.web.auth import role_required

    bp = Blueprint("probe", __name__)

    @bp.get("/api/v1/probe-admin")
    @role_required("admin")
    def probe():
        return {"ok": True}

    app.register_blueprint(bp)
    assert_api_error(client.get("/api/v1/probe-admin"), 401, "unauthorized")
    login_as("learner")
    assert_api_error(client.get("/api/v1/probe-admin"), 403, "forbidden")


def test_visible_cohorts_follow_roles(app, make_user, make_cohort):
    from edge_server import accounts

    teacher = make_user(role="instructor")
    other_teacher = make_user(role="instructor")
    learner = make_user()
    mine = make_cohort("Mine", learners=[learner], instructors=[teacher])
    theirs = make_cohort("Theirs", instructors=[other_teacher])
    admin = make_user(role="admin")
    assert [c.name for c in accounts.visible_cohorts(teacher)] == ["Mine"]
    assert [c.name for c in accounts.visible_cohorts(learner)] == ["Mine"]
    assert {c.name for c in accounts.visible_cohorts(admin)} == {"Mine", "Theirs"}
    assert accounts.can_see_cohort(teacher, mine.id)
    assert not accounts.can_see_cohort(teacher, theirs.id)
    assert not accounts.can_see_cohort(learner, mine.id)


def test_learner_data_visibility(app, make_user, make_cohort):
    from edge_server import accounts

    teacher = make_user(role="instructor")
    stranger_teacher = make_user(role="instructor")
    learner = make_user()
    classmate = make_user()
    make_cohort(learners=[learner, classmate], instructors=[teacher])
    assert accounts.can_see_learner(learner, learner.id)
    assert not accounts.can_see_learner(learner, classmate.id)
    assert accounts.can_see_learner(teacher, learner.id)
    assert not accounts.can_see_learner(stranger_teacher, learner.id)
