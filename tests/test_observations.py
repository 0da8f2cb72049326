"""Practicum observations (issue 15, items 6 and 8): the pack's form, the mentor role and
who mentors whom, recording once, the student teacher's reflection, the cohort matrix."""

from __future__ import annotations

import json
import zipfile

import pytest

from content_packs.build import build_pack
from edge_server import accounts
from edge_server.accounts import roster
from edge_server.learning.models import Event, Progress
from edge_server.tasks import observations
from edge_server.tasks.rubric import CRITERIA_EXTENSION
from tests.conftest import api_headers, assert_api_error, form_csrf
from tests.observe_support import CRITERIA, FORM, LEVELS, PRACTICUM, filled, install_practicum


@pytest.fixture
def site(app, tmp_path, make_user, make_cohort):
    install_practicum(app.config["KRU"], app.config["KRU_HOME"], tmp_path)
    learner = make_user("learner", display_name="សុខា")
    other = make_user("learner")
    teacher = make_user("instructor")
    cohort = make_cohort(learners=[learner, other], instructors=[teacher])
    mentor = make_user("mentor")
    accounts.assign_mentor(teacher, mentor, learner)
    return {
        "learner": learner,
        "other": other,
        "teacher": teacher,
        "cohort": cohort,
        "mentor": mentor,
        "admin": make_user("admin"),
    }


# --- the pack format ----------------------------------------------------------------------


def test_the_sample_form_names_a_competency_in_each_of_the_four_domains(tmp_path):
    manifest = build_pack(PRACTICUM, tmp_path / "p.zip")
    (item,) = manifest["courses"][0]["modules"][0]["items"]
    assert item["type"] == "observation" and item["required"] is False
    rubric = item["observation"]["rubric"]
    assert [c["id"] for c in rubric] == list(CRITERIA)
    assert {c["competency"].split(".")[1] for c in rubric} == {"1", "2", "3", "4"}
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        assert not any(n.endswith(".toml") for n in zf.namelist())


def test_a_bad_competency_code_is_refused_by_the_pack_checks(tmp_path):
    from content_packs.validate import validate_pack
    from edge_server.base.settings import load_settings

    zip_path = tmp_path / "p.zip"
    manifest = build_pack(PRACTICUM, zip_path)
    manifest["courses"][0]["modules"][0]["items"][0]["observation"]["rubric"][0]["competency"] = (
        "CTPS 2"
    )
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(bad, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            out.writestr(name, json.dumps(manifest) if name == "manifest.json" else data)
    problems = validate_pack(bad, load_settings(environ={}))
    assert any("competency" in p.message for p in problems), problems


# --- mentors ------------------------------------------------------------------------------


def test_a_mentor_sees_only_the_student_teachers_assigned_to_them(site):
    mentor = site["mentor"]
    assert [u.id for u in accounts.mentor_students(mentor)] == [site["learner"].id]
    assert accounts.can_see_learner(mentor, site["learner"].id)
    assert not accounts.can_see_learner(mentor, site["other"].id)
    assert accounts.visible_cohorts(mentor) == []
    assert not accounts.can_see_cohort(mentor, site["cohort"].id)


def test_an_instructor_of_another_cohort_cannot_assign_a_mentor(site, make_user):
    stranger = make_user("instructor")
    with pytest.raises(accounts.PermissionDenied):
        accounts.assign_mentor(stranger, site["mentor"], site["other"])
    with pytest.raises(accounts.ValidationError):
        accounts.assign_mentor(site["teacher"], site["teacher"], site["other"])


def test_the_class_list_names_each_learners_mentor(app):
    data = (
        "username,display_name,role,cohort,mentor\n"
        "mentor1,លោកគ្រូ វណ្ណា,mentor,,\n"
        "st1,សុភា,learner,TEC 2026,mentor1\n"
        "st2,ដារ៉ា,learner,TEC 2026,\n"
    ).encode()
    roster.import_roster(data)
    mentor = accounts.get_user(username="mentor1")
    assert mentor.role == "mentor"
    assert [u.username for u in accounts.mentor_students(mentor)] == ["st1"]


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("st1,A,learner,,nobody", "not a mentor"),
        ("m2,B,mentor,TEC,", "joins no cohort"),
        ("t1,C,instructor,,mentor1", "Only a learner"),
    ],
)
def test_a_bad_mentor_in_the_class_list_imports_nothing(app, row, why):
    data = f"username,display_name,role,cohort,mentor\nmentor1,M,mentor,,\n{row}\n".encode()
    with pytest.raises(roster.RosterError) as caught:
        roster.import_roster(data)
    assert why in caught.value.problems[0].error.message
    assert accounts.list_users("mentor") == []


def test_the_mentor_page_assigns_and_removes_a_student_teacher(client, login_as, site):
    login_as(user=site["teacher"])
    page = client.get("/teach/mentors")
    assert page.status_code == 200 and site["mentor"].display_name in page.text
    token = form_csrf(page.text)
    form = {"csrf_token": token, "mentor": site["mentor"].id, "learner": site["other"].id}
    client.post("/teach/mentors", data={**form, "action": "add"})
    assert accounts.can_see_learner(site["mentor"], site["other"].id)
    client.post("/teach/mentors", data={**form, "action": "remove"})
    assert not accounts.can_see_learner(site["mentor"], site["other"].id)


# --- recording ----------------------------------------------------------------------------


def test_an_observation_is_one_event_in_the_student_teachers_log(site):
    body = filled(site["learner"].id)
    assert observations.record(site["mentor"], body) == (body["id"], True)
    assert observations.record(site["mentor"], body) == (body["id"], False)  # sent again
    (event,) = Event.select().where(Event.verb == "observed")
    assert event.id == body["id"] and event.user_id == site["learner"].id
    assert event.object == FORM
    result = json.loads(event.result)
    criteria = result["extensions"][CRITERIA_EXTENSION]
    assert criteria[0] == {
        "criterion": "knows-content",
        "competency": "CTPS.1.1",
        "level": 3,
        "max": 4,
        "level_id": "proficient",
    }
    assert result["points"] == 18 and result["max_points"] == 24
    context = json.loads(event.context)
    assert context["observer"] == site["mentor"].uid and context["class"] == "ថ្នាក់ទី២ ខ"
    assert context["notes"] == {"engages-pupils": "ពួកសិស្សនៅខាងក្រោយមិនបានអានទេ។"}
    # Evidence, not work to pass: the item is not completed by it.
    row = Progress.get_or_none(Progress.user_id == site["learner"].id, Progress.item == FORM)
    assert row is None or row.status not in ("completed", "passed", "failed")


def test_a_task_review_carries_the_same_criteria_shape(app, tmp_path, make_user, make_cohort):
    from edge_server.tasks import service
    from tests.tasks_support import ALL_CLEAR, TASK, install_sample, pdf_bytes

    install_sample(app, tmp_path)
    learner, teacher = make_user("learner"), make_user("instructor")
    make_cohort(learners=[learner], instructors=[teacher])
    work = app.config["KRU_HOME"].tmp / "plan.pdf"
    work.parent.mkdir(parents=True, exist_ok=True)
    work.write_bytes(pdf_bytes())
    row, _ = service.submit(
        learner,
        TASK,
        [service.Incoming(work, "plan.pdf")],
        "",
        app.config["KRU"],
        app.config["KRU_HOME"],
    )
    service.review(teacher, row.id, ALL_CLEAR, "", "accepted")
    event = Event.get(Event.verb == "reviewed")
    criteria = json.loads(event.result)["extensions"][CRITERIA_EXTENSION]
    assert [c["criterion"] for c in criteria] == ["objective", "timing", "support"]
    # The sample pack's rubric names the sample framework's competencies (issue 16).
    assert [c["competency"] for c in criteria] == ["CTPS.2.1.1", "CTPS.2.1.2", "CTPS.2.3.1"]
    assert all(c["level"] == c["max"] for c in criteria)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"id": "not-a-uuid"}, "invalid_id"),
        ({"school": " "}, "missing_field"),
        ({"date": "30/11/2026"}, "invalid_date"),
        ({"rubric": {"knows-content": "proficient"}}, "invalid_rubric"),
        ({"rubric": {**LEVELS, "plans-lesson": "wonderful"}}, "invalid_rubric"),
        ({"form": "practicum/nothing"}, "not_an_observation_form"),
        ({"comment": "x" * 5001}, "too_long"),
    ],
)
def test_a_bad_form_gets_a_json_error_with_a_stable_code(client, login_as, site, change, code):
    login_as(user=site["mentor"])
    response = client.post(
        "/api/v1/observations",
        json=filled(site["learner"].id, **change),
        headers=api_headers(client),
    )
    assert_api_error(response, 404 if code == "not_an_observation_form" else 400, code)
    assert not Event.select().where(Event.verb == "observed").exists()


def test_a_bad_form_is_told_in_khmer_on_the_page(client, login_as, site):
    login_as(user=site["mentor"])
    page = client.get(f"/observe/{site['learner'].id}")
    form = {"csrf_token": form_csrf(page.text), "form": FORM, "school": "", "class": "ក"}
    form["date"] = "2026-11-30"
    form.update({f"c-{c}": lv for c, lv in LEVELS.items()})
    response = client.post(f"/observe/{site['learner'].id}", data=form, follow_redirects=True)
    assert "សូមបំពេញ school" in response.text
    assert not Event.select().where(Event.verb == "observed").exists()


@pytest.mark.parametrize("who", ["learner", "other_mentor", "stranger_instructor"])
def test_who_may_not_observe_a_student_teacher(client, login_as, site, make_user, who):
    user = {
        "learner": site["other"],
        "other_mentor": make_user("mentor"),
        "stranger_instructor": make_user("instructor"),
    }[who]
    login_as(user=user)
    response = client.post(
        "/api/v1/observations", json=filled(site["learner"].id), headers=api_headers(client)
    )
    assert_api_error(response, 403)
    assert client.get(f"/api/v1/learners/{site['learner'].id}/observations").status_code == 403
    if who != "learner":
        assert client.get(f"/observe/{site['learner'].id}").status_code == 403


def test_a_mentor_signs_in_to_their_student_teachers(client, site):
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": form_csrf(page.text),
            "username": site["mentor"].username,
            "password": "lotus-pond-7",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/observe")
    assert client.get("/").headers["Location"].endswith("/observe")


def test_the_mentor_sees_the_form_and_only_their_student(client, login_as, site):
    login_as(user=site["mentor"])
    page = client.get("/observe")
    assert site["learner"].display_name in page.text
    assert site["other"].username not in page.text
    form = client.get(f"/observe/{site['learner'].id}")
    assert form.status_code == 200
    assert 'name="c-engages-pupils"' in form.text and "CTPS.2.2" in form.text
    assert client.get("/teach/mentors").status_code == 403
    assert client.get(f"/teach/cohorts/{site['cohort'].id}").status_code == 403


def test_the_form_without_javascript_records_once(client, login_as, site):
    login_as(user=site["mentor"])
    page = client.get(f"/observe/{site['learner'].id}")
    form = {"csrf_token": form_csrf(page.text), "form": FORM, "school": "S", "class": "2B"}
    form.update(date="2026-11-30", comment="ok")
    form.update({f"c-{c}": lv for c, lv in LEVELS.items()})
    response = client.post(f"/observe/{site['learner'].id}", data=form)
    assert response.status_code == 302
    assert Event.select().where(Event.verb == "observed").count() == 1


# --- the student teacher ------------------------------------------------------------------


def test_the_student_teacher_reads_and_reflects_once(client, login_as, site):
    body = filled(site["learner"].id)
    observations.record(site["mentor"], body)
    login_as(user=site["learner"])
    page = client.get("/my/observations")
    assert "ពួកសិស្សនៅខាងក្រោយមិនបានអានទេ។" in page.text and "CTPS.4.1" in page.text
    token = form_csrf(page.text)
    response = client.post(
        f"/my/observations/{body['id']}/reflection",
        data={"csrf_token": token, "text": "ខ្ញុំនឹងដើរជុំវិញថ្នាក់។"},
    )
    assert response.status_code == 302
    again = client.post(
        f"/api/v1/observations/{body['id']}/reflection",
        json={"text": "another"},
        headers=api_headers(client),
    )
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    (found,) = observations.of_learner(site["mentor"], site["learner"].id)
    assert found.reflection == "ខ្ញុំនឹងដើរជុំវិញថ្នាក់។"


def test_a_student_teacher_cannot_reflect_on_anothers_observation(client, login_as, site):
    body = filled(site["learner"].id)
    observations.record(site["mentor"], body)
    login_as(user=site["other"])
    response = client.post(
        f"/api/v1/observations/{body['id']}/reflection",
        json={"text": "mine?"},
        headers=api_headers(client),
    )
    assert_api_error(response, 404, "observation_not_found")
    assert client.get("/my/observations").text.count('class="card observation"') == 0


# --- the cohort matrix --------------------------------------------------------------------


def test_the_cohort_matrix_shows_each_domain(client, login_as, site):
    observations.record(site["mentor"], filled(site["learner"].id))
    best = {c: "accomplished" for c in CRITERIA}
    observations.record(site["teacher"], filled(site["learner"].id, rubric=best))
    rows = {r.learner.id: r for r in observations.cohort_matrix(site["teacher"], site["cohort"])}
    mine = rows[site["learner"].id]
    assert mine.observations == 2
    # domain 1: (3 + 4) / 8; domain 2: (10 + 12) / 24; domain 3: (1 + 4) / 8; 4: 8 / 8
    assert mine.cells == {"1": 0.875, "2": 0.9167, "3": 0.625, "4": 1.0}
    assert rows[site["other"].id].cells == {"1": None, "2": None, "3": None, "4": None}
    login_as(user=site["teacher"])
    page = client.get(f"/teach/cohorts/{site['cohort'].id}/observations")
    assert "Professional ethics" in page.text or "ក្រមសីលធម៌វិជ្ជាជីវៈ" in page.text
    assert "៨៨%" in page.text or "88%" in page.text


def test_the_matrix_is_for_the_cohorts_instructors(client, login_as, site, make_user):
    login_as(user=make_user("instructor"))
    assert client.get(f"/teach/cohorts/{site['cohort'].id}/observations").status_code == 403


def test_the_form_item_in_the_practicum_course_leads_to_my_observations(client, login_as, site):
    login_as(user=site["learner"])
    course = client.get("/learn/courses/practicum/practicum")
    assert course.status_code == 200
    page = client.get("/learn/items/practicum/reading-lesson-observation")
    assert page.status_code == 200
    assert 'href="/my/observations"' in page.text
    assert 'id="mark-done"' not in page.text  # evidence a mentor records, nothing to finish


def test_a_mentor_reads_only_their_students_work_and_reviews_none(
    app, client, tmp_path, site, make_user
):
    from tests.tasks_support import ALL_CLEAR, install_sample, pdf_bytes
    from tests.test_tasks_api import review, signin, submit

    install_sample(app, tmp_path)
    signin(client, site["learner"])
    mine = submit(client, [("plan.pdf", pdf_bytes())]).get_json()["id"]
    signin(client, site["other"])
    theirs = submit(client, [("plan.pdf", pdf_bytes())]).get_json()["id"]
    signin(client, site["mentor"])
    assert client.get(f"/api/v1/submissions/{mine}").status_code == 200
    assert_api_error(client.get(f"/api/v1/submissions/{theirs}"), 404, "submission_not_found")
    assert_api_error(review(client, mine, ALL_CLEAR), 403)
    cohort = site["cohort"].id
    assert_api_error(client.get(f"/api/v1/cohorts/{cohort}/submissions"), 403)
