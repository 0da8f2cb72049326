"""Matching, ordering and essay questions: schema, install, quiz page, server grading."""

from __future__ import annotations

import re

import pytest

from content_packs.errors import InvalidPack
from edge_server.learning import quiz as quizzes
from edge_server.learning.models import Progress
from tests.conftest import form_csrf
from tests.packs_factory import build_pack, install, quiz

MATCHING = {
    "id": "match",
    "type": "matching",
    "prompt_km": "ផ្គូផ្គងពាក្យ",
    "prompt_en": "Match the words",
    "pairs": [
        {"id": "cat", "text_km": "ឆ្មា", "text_en": "cat", "match_km": "សត្វ", "match_en": "animal"},
        {
            "id": "rice",
            "text_km": "បាយ",
            "text_en": "rice",
            "match_km": "អាហារ",
            "match_en": "food",
        },
        {"id": "pen", "text_km": "ប៊ិច", "text_en": "pen", "match_km": "សម្ភារៈ", "match_en": "tool"},
    ],
}
ORDERING = {
    "id": "order",
    "type": "ordering",
    "prompt_km": "រៀបលំដាប់ថ្ងៃ",
    "choices": [
        {"id": "mon", "text_km": "ថ្ងៃច័ន្ទ"},
        {"id": "tue", "text_km": "ថ្ងៃអង្គារ"},
        {"id": "wed", "text_km": "ថ្ងៃពុធ"},
    ],
}
ESSAY = {"id": "essay", "type": "essay", "prompt_km": "ពិពណ៌នាថ្នាក់រៀនរបស់អ្នក"}
TF = {"id": "tf", "type": "true_false", "prompt_km": "ការអានជួយសិស្ស។", "answer": True}
QUIZ = {"questions": [MATCHING, ORDERING, ESSAY, TF], "pass_mark": 0.6}


def test_matching_is_right_only_when_every_pair_matches():
    right = {"cat": "cat", "rice": "rice", "pen": "pen"}
    assert quizzes.grade(QUIZ, {"match": right}).correct["match"] is True
    swapped = {"cat": "rice", "rice": "cat", "pen": "pen"}
    assert quizzes.grade(QUIZ, {"match": swapped}).correct["match"] is False


def test_ordering_is_right_only_in_the_right_order():
    assert quizzes.grade(QUIZ, {"order": ["mon", "tue", "wed"]}).correct["order"] is True
    assert quizzes.grade(QUIZ, {"order": ["tue", "mon", "wed"]}).correct["order"] is False


@pytest.mark.parametrize(
    "response",
    [
        {"match": ["cat"]},
        {"match": {"cat": "dog"}},
        {"order": "mon"},
        {"order": ["mon", "sun"]},
        {"essay": 5},
        {"essay": "x" * (quizzes.MAX_ESSAY_ANSWER + 1)},
    ],
)
def test_answers_of_the_wrong_shape_are_refused(response):
    with pytest.raises(quizzes.InvalidResponse):
        quizzes.grade(QUIZ, response)


def test_an_essay_awaits_marking_and_does_not_count_as_wrong():
    answers = {"order": ["mon", "tue", "wed"], "tf": "true", "essay": "ថ្នាក់ខ្ញុំមានសិស្ស ៣០ នាក់"}
    graded = quizzes.grade(QUIZ, {**answers, "match": {"cat": "cat", "rice": "rice"}})
    assert graded.pending == ["essay"]
    assert "essay" not in graded.correct
    assert graded.response["essay"] == "ថ្នាក់ខ្ញុំមានសិស្ស ៣០ នាក់"
    assert graded.score == round(2 / 3, 4)  # essay points left out; matching incomplete


def test_ordering_questions_are_never_shown_in_their_answer_order():
    for seed in ("a", "b", "c", "d", None):
        shown = quizzes.questions(QUIZ, "km", shuffle_seed=seed)
        order = next(q for q in shown if q.id == "order")
        assert [c for c, _ in order.choices] != ["mon", "tue", "wed"]


def test_a_matching_question_without_pairs_is_refused_by_the_pack_checks(tmp_path):
    broken = {**MATCHING, "pairs": [MATCHING["pairs"][0]]}
    with pytest.raises(InvalidPack) as err:
        build_pack(tmp_path, items=[quiz("check", questions=[broken])])
    assert err.value.code == "manifest_schema"


def test_repeated_pair_ids_are_refused(tmp_path):
    broken = {**MATCHING, "pairs": [MATCHING["pairs"][0], MATCHING["pairs"][0]]}
    with pytest.raises(InvalidPack, match="used twice"):
        build_pack(tmp_path, items=[quiz("check", questions=[broken])])


@pytest.fixture
def learner(app, tmp_path, login_as):
    install(app, build_pack(tmp_path, items=[quiz("check", questions=QUIZ["questions"])]))
    return login_as("learner")


def test_the_quiz_page_offers_selects_and_a_text_box_without_answers(client, learner):
    html = client.get("/learn/items/demo-pack/check").get_data(as_text=True)
    assert html.count('name="q-match-') == 3 and html.count('name="q-order-') == 3
    assert '<textarea name="q-essay"' in html
    assert "ផ្គូផ្គងពាក្យ" in html and "ថ្ងៃពុធ" in html


def test_submitting_grades_matching_and_ordering_and_keeps_the_essay(client, learner):
    page = client.get("/learn/items/demo-pack/check").get_data(as_text=True)
    attempt = re.search(r'name="attempt_id" value="([^"]+)"', page).group(1)
    form = {"csrf_token": form_csrf(page), "attempt_id": attempt, "q-tf": "true"}
    form |= {"q-match-cat": "cat", "q-match-rice": "rice", "q-match-pen": "pen"}
    form |= {"q-order-1": "mon", "q-order-2": "tue", "q-order-3": "wed"}
    form["q-essay"] = "សិស្សអានរៀងរាល់ថ្ងៃ"
    response = client.post(
        "/learn/items/demo-pack/check/attempts", data=form, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert 'id="score">១០០%' in html
    assert html.count('class="card q right"') == 3
    assert html.count('class="card q pending"') == 1
    assert "កំពុងរង់ចាំគ្រូបង្គោលដាក់ពិន្ទុ" in html
    row = Progress.get(Progress.item == "demo-pack/check")
    assert row.status == "passed"
