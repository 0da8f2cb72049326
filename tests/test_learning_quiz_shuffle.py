"""A quiz marked shuffle shows its questions and choices in a per-attempt order."""

from edge_server.learning import quiz as quizzes

QUIZ = {
    "shuffle": True,
    "pass_mark": 0.5,
    "questions": [
        {
            "id": f"q{n}",
            "type": "single",
            "prompt_km": f"សំណួរ {n}",
            "choices": [{"id": c, "text_km": c.upper()} for c in "abcd"],
            "answer": "a",
        }
        for n in range(8)
    ],
}


def order(seed):
    return [(q.id, [c for c, _ in q.choices]) for q in quizzes.questions(QUIZ, "km", seed)]


def test_each_attempt_has_its_own_order_and_keeps_it():
    first, second = order("attempt-1"), order("attempt-2")
    assert first != second
    assert order("attempt-1") == first  # a reload of the same attempt
    assert sorted(q for q, _ in first) == [f"q{n}" for n in range(8)]
    assert all(sorted(choices) == list("abcd") for _, choices in first)


def test_quizzes_without_shuffle_keep_the_pack_order():
    fixed = {**QUIZ, "shuffle": False}
    shown = [q.id for q in quizzes.questions(fixed, "km", "attempt-1")]
    assert shown == [f"q{n}" for n in range(8)]
