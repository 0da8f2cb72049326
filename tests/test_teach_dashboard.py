"""Instructor dashboard, CSV exports, cohort API and assignments, with their role boundaries."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playhouse.test_utils import count_queries

from edge_server import accounts
from edge_server.learning import assignments
from edge_server.learning.models import Assignment
from tests.conftest import assert_api_error, form_csrf
from tests.learning_catalog import COURSE, LESSON, QUIZ, RIGHT, WRONG, ev, make_catalog, post_events

WORDS = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "completed": "Completed",
    "passed": "Passed",
    "failed": "Failed",
}


@pytest.fixture
def site(app, client, make_user, make_cohort, login_as):
    """A cohort with two Khmer-named learners (one active), its instructor, an assigned course."""
    make_catalog(open_course=False)
    dara = make_user(display_name="សុខ ដារា")
    sophea = make_user(display_name="ចាន់ សុភា")
    teacher = make_user(role="instructor", language="en")
    cohort = make_cohort(learners=[dara, sophea], instructors=[teacher])
    assignments.assign(cohort, COURSE, "2026-04-30", teacher)
    login_as(user=dara)
    post_events(client, [ev("completed", LESSON, {"duration_s": 90})])
    post_events(client, [ev("attempted", QUIZ, {"response": WRONG})])
    post_events(client, [ev("attempted", QUIZ, {"response": {**RIGHT, "q1": "a"}})])
    client.post("/logout", data={"csrf_token": form_csrf(client.get("/learn/").get_data(True))})
    return {"cohort": cohort, "dara": dara, "sophea": sophea, "teacher": teacher}


def test_dashboard_shows_the_matrix_with_status_colours(client, login_as, site):
    login_as(user=site["teacher"])
    html = client.get(f"/teach/cohorts/{site['cohort'].id}").get_data(as_text=True)
    dara_row = re.search(
        r'<tr data-learner="{}">(.*?)</tr>'.format(site["dara"].username), html, re.S
    )
    cells = re.findall(r'data-status="(\w+)"', dara_row.group(1))
    assert cells == ["completed", "not_started", "not_started", "passed", "not_started"]


def test_dashboard_lists_who_has_not_started(client, login_as, site):
    login_as(user=site["teacher"])
    html = client.get(f"/teach/cohorts/{site['cohort'].id}").get_data(as_text=True)
    listed = re.search(r'<ul id="not-started">(.*?)</ul>', html, re.S).group(1)
    assert "ចាន់ សុភា" in listed and "សុខ ដារា" not in listed


def test_quiz_statistics_show_share_correct_and_common_wrong_answers(app, site):
    from edge_server.learning import dashboard

    matrix = dashboard.cohort_matrix(site["cohort"], "en")
    stats = {q.id: q for q in dashboard.quiz_stats(site["cohort"], matrix, "en")[0].questions}
    assert (stats["q1"].answers, stats["q1"].correct) == (2, 0)
    assert stats["q1"].wrong == [("3", 2)]  # shown as the choice text, not its id
    assert stats["q3"].share_correct == 0.5


def test_learner_detail_shows_answers_and_time_line(client, login_as, site):
    login_as(user=site["teacher"])
    url = f"/teach/cohorts/{site['cohort'].id}/learners/{site['dara'].id}"
    html = client.get(url).get_data(as_text=True)
    assert "Siem Reap" in html  # an answer of the first attempt
    assert html.count('class="card attempt"') == 2
    assert "<td>Completed</td><td>Welcome</td>" in html  # words and titles, not verbs and keys
    assert "<td>Answered the quiz</td>" in html


def test_progress_csv_has_a_bom_and_khmer_names(client, login_as, site):
    login_as(user=site["teacher"])
    response = client.get(f"/teach/cohorts/{site['cohort'].id}/progress.csv")
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["username", "display_name", "time_s"]
    names = {r[1] for r in rows[1:]}
    assert names == {"សុខ ដារា", "ចាន់ សុភា"}


def test_progress_csv_is_named_after_the_cohort_and_course_with_scores_in_percent(
    client, login_as, site
):
    login_as(user=site["teacher"])
    cid = site["cohort"].id
    response = client.get(f"/teach/cohorts/{cid}/progress.csv?course={COURSE}")
    disposition = response.headers["Content-Disposition"]
    cohort = "-".join(site["cohort"].name.split())
    assert f'filename="{cohort}-' in disposition and disposition.count("-progress.csv") == 2
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    quiz_score = next(i for i, h in enumerate(rows[0]) if h.endswith("(score %)"))
    dara = next(r for r in rows if r[0] == site["dara"].username)
    assert dara[quiz_score - 1] == "Passed" and dara[quiz_score] == "80"  # 80% on the page


def test_progress_csv_keeps_a_khmer_cohort_name_for_browsers_that_read_it(
    client, login_as, site, make_cohort
):
    from edge_server.base.csv_writer import attachment

    value = attachment("ថ្នាក់ ក", "progress")
    assert value.startswith("attachment; filename=\"progress.csv\"; filename*=UTF-8''")
    assert "%E1%9E" in value  # the Khmer letters, percent-encoded


def test_dashboard_offers_the_open_course_beside_the_assigned_one(app, client, login_as, site):
    make_catalog(open_course=True, pack="other")
    login_as(user=site["teacher"])
    html = client.get(f"/teach/cohorts/{site['cohort'].id}").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]+)"( selected)?>([^<]+)</option>', html)
    shown = [(key, bool(chosen), label) for key, chosen, label in options][:2]
    assert shown == [
        (COURSE, True, "Basics · assigned"),
        ("other/basics", False, "Basics · open to everyone"),
    ]


def test_events_csv_lists_each_event_of_the_cohort(client, login_as, site, make_user):
    login_as(user=site["teacher"])
    response = client.get(f"/teach/cohorts/{site['cohort'].id}/events.csv")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    # Each attempt's outcome and each status the Pi decided are in the log too.
    assert [r["verb"] for r in rows] == [
        "completed",
        "completed",
        "attempted",
        "failed",
        "failed",
        "attempted",
        "passed",
        "passed",
    ]
    assert rows[0]["display_name"] == "សុខ ដារា" and rows[0]["duration_s"] == "90"


def test_page_csv_and_json_agree(client, login_as, site):
    login_as(user=site["teacher"])
    cid = site["cohort"].id
    body = client.get(f"/api/v1/cohorts/{cid}/progress").get_json()
    rows = list(
        csv.reader(
            io.StringIO(client.get(f"/teach/cohorts/{cid}/progress.csv").data.decode("utf-8-sig"))
        )
    )
    html = client.get(f"/teach/cohorts/{cid}").get_data(as_text=True)
    for learner in body["learners"]:
        statuses = [learner["items"][i["id"]]["status"] for i in body["items"]]
        csv_row = next(r for r in rows if r[0] == learner["username"])
        # The CSV says the statuses in the page's words (the teacher reads English).
        assert [c for c in csv_row[4:] if not re.fullmatch(r"[\d.]*", c)] == [
            WORDS[s] for s in statuses
        ]
        page_row = re.search(
            r'<tr data-learner="{}">(.*?)</tr>'.format(learner["username"]), html, re.S
        )
        assert re.findall(r'data-status="(\w+)"', page_row.group(1)) == statuses


def test_cohort_list_api_shows_only_my_cohorts(client, login_as, site, make_cohort):
    make_cohort(name="Other cohort")
    login_as(user=site["teacher"])
    names = [c["name"] for c in client.get("/api/v1/cohorts").get_json()["cohorts"]]
    assert names == [site["cohort"].name]


def test_admins_see_every_cohort(client, login_as, site, make_cohort):
    other = make_cohort(name="Other cohort")
    login_as("admin")
    assert client.get(f"/teach/cohorts/{other.id}").status_code == 200
    assert len(client.get("/api/v1/cohorts").get_json()["cohorts"]) == 2


@pytest.mark.parametrize("path", ["", "/progress.csv", "/events.csv", "/learners/{dara}"])
def test_an_instructor_cannot_open_another_cohort(client, login_as, site, path):
    login_as("instructor")  # teaches nothing
    url = f"/teach/cohorts/{site['cohort'].id}" + path.format(dara=site["dara"].id)
    assert client.get(url).status_code == 404  # as if it did not exist


@pytest.mark.parametrize("path", ["", "/progress.csv", "/events.csv", "/learners/{dara}"])
def test_another_cohort_and_no_cohort_look_the_same(client, login_as, site, path):
    login_as("instructor")
    other = f"/teach/cohorts/{site['cohort'].id}" + path.format(dara=site["dara"].id)
    missing = "/teach/cohorts/9999" + path.format(dara=site["dara"].id)
    first, second = client.get(other), client.get(missing)

    def main(response) -> str:  # the page without its per-request CSRF tokens
        return re.search(r"<main.*</main>", response.get_data(as_text=True), re.S).group(0)

    assert (first.status_code, main(first)) == (second.status_code, main(second))


@pytest.mark.parametrize(
    "path",
    [
        "/teach/",
        "/teach/cohorts/{cid}",
        "/teach/cohorts/{cid}/progress.csv",
        "/teach/cohorts/{cid}/events.csv",
    ],
)
def test_learners_cannot_open_instructor_pages(client, login_as, site, path):
    login_as(user=site["sophea"])
    assert client.get(path.format(cid=site["cohort"].id)).status_code == 403


def test_learners_cannot_read_cohort_progress_json(client, login_as, site):
    login_as(user=site["sophea"])
    assert_api_error(client.get(f"/api/v1/cohorts/{site['cohort'].id}/progress"), 403)


def test_an_instructor_cannot_read_another_cohorts_json(client, login_as, site):
    login_as("instructor")
    assert_api_error(client.get(f"/api/v1/cohorts/{site['cohort'].id}/progress"), 404)


def test_another_cohorts_json_and_no_cohort_look_the_same(client, login_as, site):
    login_as("instructor")
    other = assert_api_error(client.get(f"/api/v1/cohorts/{site['cohort'].id}/progress"), 404)
    missing = assert_api_error(client.get("/api/v1/cohorts/9999/progress"), 404)
    assert other == missing


def test_an_admin_asking_for_no_cohort_gets_404(client, login_as, site):
    login_as("admin")
    assert_api_error(client.get("/api/v1/cohorts/9999/progress"), 404)


def test_assigning_a_course_with_a_due_date(client, login_as, site, make_cohort):
    other = make_cohort(name="Evening class", instructors=[site["teacher"]])
    login_as(user=site["teacher"])
    page = client.get(f"/teach/cohorts/{other.id}").get_data(as_text=True)
    response = client.post(
        f"/teach/cohorts/{other.id}/assignments",
        data={"csrf_token": form_csrf(page), "course": COURSE, "due_date": "2026-05-15"},
    )
    assert response.status_code == 303
    assert Assignment.get(Assignment.cohort == other).due_date == "2026-05-15"


def test_a_bad_due_date_is_explained_and_changes_nothing(client, login_as, site):
    login_as(user=site["teacher"])
    cid = site["cohort"].id
    page = client.get(f"/teach/cohorts/{cid}").get_data(as_text=True)
    response = client.post(
        f"/teach/cohorts/{cid}/assignments",
        data={"csrf_token": form_csrf(page), "course": COURSE, "due_date": "next week"},
        follow_redirects=True,
    )
    assert "The due date next week is not a date" in response.get_data(as_text=True)
    assert Assignment.get(Assignment.cohort == site["cohort"]).due_date == "2026-04-30"


def test_an_instructor_cannot_assign_to_another_cohort(client, login_as, site):
    login_as("instructor")
    page = client.get("/teach/").get_data(as_text=True)
    response = client.post(
        f"/teach/cohorts/{site['cohort'].id}/assignments",
        data={"csrf_token": form_csrf(page), "course": COURSE, "remove": "1"},
    )
    assert response.status_code == 404
    assert Assignment.select().count() == 1


def test_dashboard_cells_stay_short(client, login_as, site):
    login_as(user=site["teacher"])
    html = client.get(f"/teach/cohorts/{site['cohort'].id}").get_data(as_text=True)
    cells = re.findall(r'<td class="cell"[^>]*>.*?</td>', html)
    assert len(cells) == 2 * 5 and max(len(c) for c in cells) <= 60, cells


def test_dashboard_queries_do_not_grow_with_the_class(client, login_as, site, make_user):
    login_as(user=site["teacher"])
    url = f"/teach/cohorts/{site['cohort'].id}"
    client.get(url)  # warm the session and the course catalog
    with count_queries() as before:
        client.get(url)
    for _ in range(5):
        accounts.add_to_cohort(site["cohort"], make_user())
    with count_queries() as after:
        assert client.get(url).status_code == 200
    assert after.count == before.count, [q.msg for q in after.get_queries()]


def test_assign_to_a_cohort_goes_to_the_only_cohorts_form_with_the_course_chosen(
    client, login_as, site
):
    login_as(user=site["teacher"])
    response = client.get(f"/teach/?assign={COURSE}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#assign")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'<option value="{COURSE}" selected>' in html


def test_assign_to_a_cohort_with_several_cohorts_asks_which(client, login_as, site, make_cohort):
    make_cohort(name="Second cohort", instructors=[site["teacher"]])
    login_as(user=site["teacher"])
    html = client.get(f"/teach/?assign={COURSE}").get_data(as_text=True)
    assert 'id="assign-pick"' in html
    assert html.count(f"?assign={COURSE}#assign") == 2
