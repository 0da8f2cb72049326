"""Completion rules, summaries, and ``kru progress rebuild`` giving the same result."""

from __future__ import annotations

import pytest

from edge_server.base.db import db
from edge_server.learning import courses, progress
from edge_server.learning.models import Progress
from tests.learning_catalog import (
    APP,
    COURSE,
    LESSON,
    PDF,
    QUIZ,
    RIGHT,
    VIDEO,
    WRONG,
    ev,
    post_events,
)


@pytest.fixture
def learner(app, login_as, make_catalog):
    make_catalog(open_course=True)
    return login_as("learner")


def status(item: str) -> str:
    row = Progress.get_or_none(Progress.item == item)
    return row.status if row else "not_started"


def test_a_video_watched_to_89_percent_is_still_in_progress(client, learner):
    post_events(client, [ev("progressed", VIDEO, {"completion": 0.89, "position_s": 80})])
    assert status(VIDEO) == "in_progress"


def test_a_video_watched_to_90_percent_is_completed(client, learner):
    post_events(client, [ev("progressed", VIDEO, {"completion": 0.9, "position_s": 95})])
    assert status(VIDEO) == "completed"


def test_the_last_video_position_is_kept_for_resuming(client, learner):
    post_events(client, [ev("progressed", VIDEO, {"position_s": 30})])
    post_events(client, [ev("progressed", VIDEO, {"position_s": 61.5})])
    assert Progress.get(Progress.item == VIDEO).position_s == 61.5


def test_a_lesson_is_completed_when_the_page_reports_it_read(client, learner):
    post_events(client, [ev("viewed", LESSON)])
    assert status(LESSON) == "in_progress"
    post_events(client, [ev("completed", LESSON)])
    assert status(LESSON) == "completed"


def test_a_pdf_is_completed_when_opened(client, learner):
    post_events(client, [ev("viewed", PDF)])
    assert status(PDF) == "completed"


def test_a_passed_quiz_stays_passed_after_a_worse_attempt(client, learner):
    post_events(client, [ev("attempted", QUIZ, {"response": RIGHT})])
    post_events(client, [ev("attempted", QUIZ, {"response": WRONG})])
    row = Progress.get(Progress.item == QUIZ)
    assert (row.status, row.score, row.attempts) == ("passed", 1.0, 2)


def test_time_spent_adds_up_and_one_event_counts_at_most_an_hour(client, learner):
    post_events(client, [ev("progressed", LESSON, {"duration_s": 30})])
    post_events(client, [ev("progressed", LESSON, {"duration_s": 50_000})])
    assert Progress.get(Progress.item == LESSON).time_s == 30 + 3600


def test_a_course_is_completed_when_all_required_items_are(client, learner):
    post_events(client, [ev("completed", LESSON), ev("completed", VIDEO)])
    outline = courses.course_outline(learner, COURSE, "en")
    assert not outline.completed and outline.next_item.key == QUIZ
    post_events(client, [ev("attempted", QUIZ, {"response": RIGHT})])
    outline = courses.course_outline(learner, COURSE, "en")
    assert outline.completed and outline.percent == 100  # the pdf and app are optional


def _busy_log(client, make_user, login_as) -> None:
    post_events(client, [ev("viewed", LESSON), ev("progressed", LESSON, {"duration_s": 12})])
    post_events(client, [ev("progressed", VIDEO, {"completion": 0.95, "position_s": 100})])
    post_events(client, [ev("attempted", QUIZ, {"response": WRONG, "score": 1.0})])
    post_events(client, [ev("attempted", QUIZ, {"response": RIGHT}), ev("viewed", PDF)])
    post_events(client, [ev("viewed", APP), ev("passed", APP, {"score": 0.7})])
    login_as("learner")  # a second learner on the same client
    post_events(client, [ev("completed", LESSON, {"duration_s": 5}), ev("viewed", VIDEO)])


def test_rebuild_from_the_log_gives_the_same_summaries(client, learner, make_user, login_as):
    _busy_log(client, make_user, login_as)
    before = progress.snapshot()
    assert len(before) > 8
    counts = progress.rebuild()
    # 10 sent + 2 server-made quiz outcomes + 6 decisions (video, quiz failed and passed,
    # pdf, app, the second learner's lesson)
    assert counts["events"] == 18
    assert counts["decisions"] == 0
    assert progress.snapshot() == before


def test_rebuild_repairs_a_damaged_summary(client, learner, make_user, login_as):
    _busy_log(client, make_user, login_as)
    before = progress.snapshot()
    Progress.update(status="failed", time_s=0).execute()
    progress.rebuild()
    assert progress.snapshot() == before


def test_kru_progress_rebuild_reports_what_it_did(client, learner, make_user, login_as, runner):
    _busy_log(client, make_user, login_as)
    before = progress.snapshot()
    db.close()
    result = runner("progress", "rebuild")
    assert result.exit_code == 0, result.output
    assert "from 18 events; 0 missing decisions recorded" in result.output
    db.connect(reuse_if_open=True)
    assert progress.snapshot() == before


def test_kru_progress_rebuild_check_fails_on_a_damaged_summary(client, learner, runner):
    post_events(client, [ev("completed", LESSON)])
    Progress.update(status="in_progress").execute()
    db.close()
    result = runner("progress", "rebuild", "--check")
    assert result.exit_code == 1
    assert "differ from the event log" in result.output
    db.connect(reuse_if_open=True)
    assert status(LESSON) == "in_progress"  # --check wrote nothing


def test_progress_read_as_one_row_keeps_every_value_and_type(client, learner):
    """``progress_rows`` fetches a learner's progress as one JSON row (issue 22): same values,
    same types (None, int, float, Khmer text) as reading the table row by row."""
    post_events(
        client,
        [
            ev("progressed", VIDEO, {"completion": 0.5, "position_s": 80.25}),
            ev("completed", LESSON),
            ev("attempted", QUIZ, {"response": RIGHT}),
            ev("viewed", APP),
            ev("passed", APP, {"score": 0.7}),
        ],
    )
    rows = db.execute_sql(
        "SELECT item, status, score, time_s, attempts, position_s FROM progress WHERE user_id = ?",
        [learner.id],
    ).fetchall()
    assert len(rows) == 4
    want = {
        item: (st or "not_started", score, time_s or 0, att or 0, pos)
        for item, st, score, time_s, att, pos in rows
    }
    course_ids = [courses.Course.get(courses.Course.key == COURSE).id]
    got = courses.progress_rows(learner.id, course_ids)
    assert got == want
    assert [tuple(map(type, got[k])) for k in sorted(got)] == [
        tuple(map(type, want[k])) for k in sorted(want)
    ]
    assert courses.progress_rows(learner.id + 1000, course_ids) == {}  # nobody's: empty


def _two_queries(user, lang: str, course_key: str | None = None):
    """What the pages read in two queries before issue 22 folded them into one."""
    found = courses._summaries(user, lang, course_key)
    return found, courses.progress_rows(user.id, [cid for _c, cid, _v in found])


@pytest.mark.parametrize("lang", ["km", "en"])
def test_courses_and_progress_in_one_query_read_what_two_did(client, learner, make_user, lang):
    """The learner home and course page read the courses and the learner's progress in one
    query (two JSON arrays in one row): the same courses, in the same order, with the same
    titles, due dates, versions and progress values and types."""
    post_events(
        client,
        [
            ev("progressed", VIDEO, {"completion": 0.5, "position_s": 80.25}),
            ev("completed", LESSON),
            ev("passed", APP, {"score": 0.7}),
        ],
    )
    instructor = make_user(role="instructor", username="teacher-one")
    for user in (learner, instructor):
        got = courses._courses_with_progress(user, lang)
        assert got == _two_queries(user, lang)
        assert got[0], "the learner's open course is listed"
        one = courses._courses_with_progress(user, lang, COURSE)
        assert one == _two_queries(user, lang, COURSE)
        assert [tuple(map(type, v)) for _k, v in sorted(got[1].items())] == [
            tuple(map(type, v)) for _k, v in sorted(_two_queries(user, lang)[1].items())
        ]
    assert courses._courses_with_progress(learner, lang, "no/such-course") == ([], {})


@pytest.mark.parametrize("lang", ["km", "en"])
@pytest.mark.parametrize(
    "done",
    [
        [],
        [ev("progressed", VIDEO, {"completion": 0.5, "position_s": 80.25})],
        [ev("completed", LESSON), ev("failed", APP, {"score": 0.2})],
        [ev("completed", LESSON), ev("passed", APP, {"score": 0.7})],
    ],
)
def test_course_cards_count_what_the_course_summaries_count(client, learner, make_user, lang, done):
    """The learner home's cards (``courses.course_cards``, without an ItemStatus per item)
    give each course the tally, "started", "completed" and next item ``my_courses`` gives."""
    if done:
        post_events(client, done)
    for user in (learner, make_user(role="instructor", username=f"teacher-{lang}")):
        summaries = courses.my_courses(user, lang)
        cards = courses.course_cards(user, lang)
        assert summaries, "the learner's open course is listed"
        assert [
            (c.key, c.title, c.due_date, c.tally(), c.started, c.completed, c.next_item.key)
            for c in cards
        ] == [
            (s.key, s.title, s.due_date, s.tally(), s.started, s.completed, s.next_item.key)
            for s in summaries
        ]


def test_a_course_card_counts_every_item_when_none_is_required():
    from content_packs.catalog import Catalog, CatalogItem

    items = tuple(CatalogItem(f"p/i{n}", "lesson", f"i{n}", False, None, 0) for n in range(3))
    cat = Catalog(1, (("m", "M"),), items, {it.key: n for n, it in enumerate(items)})
    summary = courses.CourseSummary("p/c", "C", "", True, None)
    progress = {"p/i0": ("completed", None, 0, 1, None), "p/i1": ("in_progress", None, 0, 0, None)}
    card = courses._card(summary, cat, progress)
    full = courses._fill(summary, cat, progress)
    assert (
        (card.tally(), card.started, card.completed, card.next_item.key)
        == (
            full.tally(),
            full.started,
            full.completed,
            full.next_item.key,
        )
        == ((1, 3), True, False, "p/i1")
    )
    empty = Catalog(1, (), (), {})
    assert courses._card(summary, empty, {}).tally() == (0, 0)
    assert not courses._card(summary, empty, {}).completed


@pytest.mark.parametrize("lang", ["km", "en"])
def test_the_course_page_reads_what_the_course_outline_reads(client, learner, lang):
    """The course page (``courses.course_page``: a card, the catalog and the statuses by item
    key) shows each item with the status and the course with the tally ``course_outline``
    gives, and refuses a course the outline refuses."""
    post_events(
        client,
        [ev("completed", LESSON), ev("failed", APP, {"score": 0.2}), ev("progressed", VIDEO)],
    )
    outline = courses.course_outline(learner, COURSE, lang)
    page = courses.course_page(learner, COURSE, lang)
    assert [(ci.key, page.statuses.get(ci.key, "not_started")) for ci in page.catalog.items] == [
        (i.key, i.status) for i in outline.items
    ]
    assert {i.status for i in outline.items} >= {"completed", "failed", "in_progress"}
    card = page.card
    assert (card.key, card.title, card.due_date, card.tally(), card.completed) == (
        outline.key,
        outline.title,
        outline.due_date,
        outline.tally(),
        outline.completed,
    )
    assert page.description == outline.description
    with pytest.raises(courses.CourseNotFound):
        courses.course_page(learner, "no/such-course", lang)
