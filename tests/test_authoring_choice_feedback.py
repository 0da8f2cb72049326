"""Feedback per quiz choice (issue 17): written in the editor, kept by packs, shown to learners."""

from __future__ import annotations

import re

from edge_server.learning import assignments
from tests.authoring_helpers import add_item, api, make_course
from tests.conftest import assert_api_error, form_csrf

QUESTION = {
    "id": "often",
    "type": "single",
    "prompt_km": "តើគួរអានរឿងប៉ុន្មានដង?",
    "choices": [
        {"id": "once", "text_km": "ម្តង", "feedback_km": "ម្តងមិនគ្រប់គ្រាន់ទេ៖ សិស្សត្រូវការស្តាប់ច្រើនដង។"},
        {"id": "daily", "text_km": "រាល់ថ្ងៃ", "feedback_km": "ល្អណាស់៖ ការអានរាល់ថ្ងៃបង្កើតទម្លាប់។"},
    ],
    "answer": "daily",
    "feedback_wrong_km": "មើលមេរៀនម្ដងទៀត។",
}


def publish_quiz(client, login_as, make_user, make_cohort, question):
    instructor = login_as("instructor")
    draft_id = make_course(client)
    add_item(client, draft_id, type="quiz", title={"km": "តេស្ត"}, questions=[question])
    response = api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/publish")
    assert response.status_code == 201, response.get_json()
    pack_id = response.get_json()["pack"]["id"]
    learner = make_user("learner")
    assignments.assign(make_cohort(learners=[learner]), f"{pack_id}/{pack_id}", None, instructor)
    client.post("/logout", headers={"X-CSRFToken": ""})
    login_as(user=learner)
    return pack_id


def submit(client, url: str, answer: str) -> str:
    page = client.get(url).get_data(as_text=True)
    attempt = re.search(r'name="attempt_id" value="([^"]+)"', page).group(1)
    data = {"csrf_token": form_csrf(page), "attempt_id": attempt, "q-often": answer}
    response = client.post(url + "/attempts", data=data, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_result_page_shows_the_chosen_choices_feedback(
    client, login_as, make_user, make_cohort
):
    pack_id = publish_quiz(client, login_as, make_user, make_cohort, QUESTION)
    items = client.get(f"/learn/courses/{pack_id}/{pack_id}").get_data(as_text=True)
    url = re.search(rf'href="(/learn/items/{pack_id}/[^"]+)"', items).group(1)
    wrong = submit(client, url, "once")
    assert "ម្តងមិនគ្រប់គ្រាន់ទេ" in wrong and "មើលមេរៀនម្ដងទៀត។" in wrong
    assert "ការអានរាល់ថ្ងៃបង្កើតទម្លាប់" not in wrong
    right = submit(client, url, "daily")
    assert "ការអានរាល់ថ្ងៃបង្កើតទម្លាប់" in right and "ម្តងមិនគ្រប់គ្រាន់ទេ" not in right


def test_choice_feedback_that_is_not_text_is_refused(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    bad = {
        **QUESTION,
        "choices": [{**QUESTION["choices"][0], "feedback_km": 3}, QUESTION["choices"][1]],
    }
    response = api(
        client,
        "POST",
        f"/api/v1/authoring/courses/{draft_id}/items",
        json={"type": "quiz", "title": {"km": "តេស្ត"}, "questions": [bad]},
    )
    assert_api_error(response, 400)


def test_a_pack_folder_with_choice_feedback_builds_and_older_packs_still_do(tmp_path):
    import shutil

    from content_packs.build import build_pack
    from content_packs.demo import SAMPLE
    from content_packs.manifest import iter_items

    src = shutil.copytree(SAMPLE, tmp_path / "src")
    quiz = src / "quizzes" / "check-groups.toml"
    text = quiz.read_text(encoding="utf-8")
    line = 'text_en = "Show the cover and let pupils predict"\n'
    assert line in text
    quiz.write_text(
        text.replace(line, line + '  feedback_km = "ការទស្សន៍ទាយជួយឱ្យសិស្សស្តាប់។"\n'),
        encoding="utf-8",
    )
    manifest = build_pack(src, tmp_path / "pack.zip")
    quizzes = {i["slug"]: i["quiz"] for _c, _m, i in iter_items(manifest) if i["type"] == "quiz"}
    choices = quizzes["check-groups"]["questions"][0]["choices"]
    assert choices[0]["feedback_km"] == "ការទស្សន៍ទាយជួយឱ្យសិស្សស្តាប់។"
    assert "feedback_km" not in choices[1]
    plain = build_pack(SAMPLE, tmp_path / "plain.zip")
    assert all(
        "feedback_km" not in c
        for _c, _m, i in iter_items(plain)
        if i["type"] == "quiz"
        for q in i["quiz"]["questions"]
        for c in q.get("choices", [])
    )
