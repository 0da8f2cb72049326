"""The site writes each status it decides into the log, once, and rebuild keeps it so."""

from __future__ import annotations

import json
import uuid

import pytest

from edge_server.accounts.models import User
from edge_server.base.db import db
from edge_server.learning import progress
from edge_server.learning.models import Event, Progress
from sync import protocol
from tests.conftest import assert_api_error
from tests.learning_catalog import (
    APP,
    LESSON,
    PDF,
    QUIZ,
    RIGHT,
    VIDEO,
    WRONG,
    ev,
    make_catalog,
    post_events,
)


@pytest.fixture
def learner(app, login_as):
    make_catalog(open_course=True)
    return login_as("learner")


def decisions() -> list[tuple[str, str, str]]:
    """Return (username, verb, item) of every decision event in the log, in log order."""
    rows = (
        Event.select(Event.id, Event.verb, Event.object, User.uid, User.username)
        .join(User)
        .order_by(Event.seq)
        .tuples()
    )
    return [
        (name, verb, obj)
        for eid, verb, obj, uid, name in rows
        if protocol.is_decision(eid, uid, obj, verb)
    ]


def status(item: str) -> str:
    row = Progress.get_or_none(Progress.item == item)
    return row.status if row else "not_started"


def test_a_pdf_only_viewed_is_recorded_as_completed_by_the_site(client, learner):
    post_events(client, [ev("viewed", PDF)])
    assert status(PDF) == "completed"
    assert decisions() == [(learner.username, "completed", PDF)]
    row = Event.get(Event.id == protocol.decision_id(learner.uid, PDF, "completed"))
    assert json.loads(row.context)["decided_by"] == "site"


def test_a_decision_is_made_once_however_often_the_rule_is_met(client, learner):
    post_events(client, [ev("viewed", PDF)])
    post_events(client, [ev("viewed", PDF), ev("completed", PDF)])
    post_events(client, [ev("viewed", LESSON), ev("completed", LESSON), ev("completed", LESSON)])
    assert decisions() == [
        (learner.username, "completed", PDF),
        (learner.username, "completed", LESSON),
    ]


def test_a_phones_completed_short_of_the_rule_decides_nothing(client, learner):
    post_events(client, [ev("completed", VIDEO, {"completion": 0.5})])
    assert status(VIDEO) == "in_progress"
    assert decisions() == []


def test_a_quiz_failed_then_passed_records_both_decisions(client, learner):
    post_events(client, [ev("attempted", QUIZ, {"response": WRONG})])
    post_events(client, [ev("attempted", QUIZ, {"response": RIGHT})])
    assert status(QUIZ) == "passed"
    assert decisions() == [(learner.username, "failed", QUIZ), (learner.username, "passed", QUIZ)]
    passed = Event.get(Event.id == protocol.decision_id(learner.uid, QUIZ, "passed"))
    assert json.loads(passed.result) == {"score": 1.0}


def test_an_html5_app_reporting_passed_with_a_score_is_decided_passed(client, learner):
    post_events(client, [ev("viewed", APP), ev("failed", APP, {"score": 0.3})])
    row = Progress.get(Progress.item == APP)
    assert (row.status, row.score) == ("failed", 0.3)
    post_events(client, [ev("passed", APP, {"score": 0.85})])
    row = Progress.get(Progress.item == APP)
    assert (row.status, row.score) == ("passed", 0.85)
    assert decisions() == [(learner.username, "failed", APP), (learner.username, "passed", APP)]
    passed = Event.get(Event.id == protocol.decision_id(learner.uid, APP, "passed"))
    assert json.loads(passed.result) == {"score": 0.85}


def test_a_phone_cannot_send_an_id_the_pi_makes_itself(client, learner):
    reserved = protocol.decision_id(learner.uid, LESSON, "completed")
    response = post_events(client, [ev("viewed", PDF), ev("viewed", LESSON, id=reserved)])
    error = assert_api_error(response, 400, "invalid_id")
    assert error["index"] == 1
    assert Event.select().count() == 0
    post_events(client, [ev("completed", LESSON)])
    assert decisions() == [(learner.username, "completed", LESSON)]


def test_a_graded_attempt_whose_context_would_pass_the_cap_is_refused(client, learner):
    padding = "x" * (protocol.MAX_CONTEXT_CHARS - 40)  # fits as sent, not once graded
    attempt = ev("attempted", QUIZ, {"response": RIGHT}, context={"note": padding})
    assert protocol.json_size(attempt["context"]) <= protocol.MAX_CONTEXT_CHARS
    response = post_events(client, [attempt])
    assert_api_error(response, 400, "invalid_event")
    assert Event.select().count() == 0
    assert status(QUIZ) == "not_started"


def _busy_log(client, login_as) -> None:
    post_events(client, [ev("viewed", LESSON), ev("progressed", LESSON, {"duration_s": 12})])
    post_events(client, [ev("progressed", VIDEO, {"completion": 0.95, "position_s": 100})])
    post_events(client, [ev("attempted", QUIZ, {"response": WRONG})])
    post_events(client, [ev("attempted", QUIZ, {"response": RIGHT}), ev("viewed", PDF)])
    post_events(client, [ev("viewed", APP), ev("passed", APP, {"score": 0.7})])
    login_as("learner")
    post_events(client, [ev("completed", LESSON, {"duration_s": 5}), ev("viewed", VIDEO)])


def _drop_decisions() -> int:
    """Delete the decision events, as in a log written before the site made them."""
    ids = [
        eid
        for eid, verb, obj, uid in Event.select(Event.id, Event.verb, Event.object, User.uid)
        .join(User)
        .tuples()
        if protocol.is_decision(eid, uid, obj, verb)
    ]
    Event.delete().where(Event.id.in_(ids)).execute()
    return len(ids)


def test_rebuild_makes_nothing_new_from_a_log_with_its_decisions(client, learner, login_as):
    _busy_log(client, login_as)
    before, made = progress.snapshot(), decisions()
    assert len(made) == 6  # video, quiz failed and passed, pdf, app, the second lesson
    counts = progress.rebuild()
    assert counts["decisions"] == 0
    assert progress.snapshot() == before
    assert decisions() == made


def test_rebuild_records_the_decisions_a_log_lacks_with_the_same_ids(client, learner, login_as):
    _busy_log(client, login_as)
    before = progress.snapshot()
    ids = {e.id for e in Event.select(Event.id)}
    dropped = _drop_decisions()
    counts = progress.rebuild()
    assert counts["decisions"] == dropped == 6
    assert progress.snapshot() == before
    assert {e.id for e in Event.select(Event.id)} == ids
    assert progress.rebuild()["decisions"] == 0


def test_rebuild_honours_a_decision_the_rules_would_no_longer_reach(client, learner):
    # A decision made under earlier rules stays: central has counted it already.
    post_events(client, [ev("progressed", VIDEO, {"completion": 0.5})])
    with db.atomic():
        db.execute_sql(
            progress.INSERT_EVENT,
            (
                protocol.decision_id(learner.uid, VIDEO, "completed"),
                learner.id,
                "completed",
                VIDEO,
                None,
                None,
                None,
                "2026-03-02T08:20:00.000+00:00",
                "boot",
            ),
        )
    progress.rebuild()
    assert status(VIDEO) == "completed"


def test_kru_progress_rebuild_check_reports_missing_decisions(client, learner, login_as, runner):
    _busy_log(client, login_as)
    _drop_decisions()
    db.close()
    result = runner("progress", "rebuild", "--check")
    assert result.exit_code == 1
    assert "lacks 6 decisions" in result.output
    result = runner("progress", "rebuild")
    assert result.exit_code == 0, result.output
    assert "6 missing decisions recorded" in result.output
    assert runner("progress", "rebuild", "--check").exit_code == 0
    db.connect(reuse_if_open=True)


def test_upgrading_a_site_records_the_decisions_of_earlier_progress(client, learner, data_dir):
    from edge_server.base.datahome import DataHome
    from edge_server.site import database as schema

    post_events(client, [ev("viewed", PDF), ev("completed", LESSON)])
    _drop_decisions()
    db.execute_sql("DELETE FROM kru_migrations WHERE name = 'm0024_progress_decisions'")
    assert schema.upgrade(DataHome(data_dir)) == ["m0024_progress_decisions"]
    assert sorted(decisions()) == [
        (learner.username, "completed", PDF),
        (learner.username, "completed", LESSON),
    ]


def test_decision_ids_are_version_5_and_differ_by_learner_item_and_status():
    a = protocol.decision_id("u1", "p/i", "completed")
    assert uuid.UUID(a).version == 5
    assert a == protocol.decision_id("u1", "p/i", "completed")
    others = [("u2", "p/i", "completed"), ("u1", "p/j", "completed"), ("u1", "p/i", "passed")]
    assert len({a, *(protocol.decision_id(*x) for x in others)}) == 4
