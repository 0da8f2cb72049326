"""Group commit of event batches: concurrent batches share a transaction, each keeps its result."""

from __future__ import annotations

import threading
import time

import pytest

from edge_server.base.db import db
from edge_server.learning import events
from edge_server.learning.group_commit import GroupCommit
from edge_server.learning.models import Event, Progress
from tests.learning_catalog import LESSON, QUIZ, RIGHT, VIDEO, ev, make_catalog


@pytest.fixture
def notes(app):
    db.execute_sql("CREATE TABLE notes (n INTEGER PRIMARY KEY)")
    return GroupCommit(db)


def _in_thread(fn):
    """Run ``fn`` in a thread with its own connection; return (thread, outcome dict)."""
    outcome: dict = {}

    def target() -> None:
        db.connect(reuse_if_open=True)
        try:
            outcome["value"] = fn()
        except Exception as exc:
            outcome["error"] = exc
        finally:
            db.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def _note(n: int):
    def work() -> int:
        db.execute_sql("INSERT INTO notes (n) VALUES (?)", (n,))
        return n

    return work


def _hold_first_group(committer: GroupCommit):
    """Start a job that holds the write transaction until released."""
    release = threading.Event()

    def first() -> int:
        db.execute_sql("INSERT INTO notes (n) VALUES (0)")
        release.wait(10)
        return 0

    started = _in_thread(lambda: committer.run(first))
    _wait_for(lambda: committer._leading)
    return started, release


def test_batches_waiting_together_are_committed_in_one_transaction(notes):
    (lead, _), release = _hold_first_group(notes)
    others = [_in_thread(lambda n=n: notes.run(_note(n))) for n in range(1, 5)]
    _wait_for(lambda: len(notes._queue) == 4)
    release.set()
    lead.join()
    for thread, _ in others:
        thread.join()
    assert sorted(outcome["value"] for _, outcome in others) == [1, 2, 3, 4]
    assert notes.groups == 2  # the held group, then all four waiting jobs at once
    assert db.execute_sql("SELECT COUNT(*) FROM notes").fetchone()[0] == 5


def test_a_failing_job_rolls_back_only_its_own_writes(notes):
    def bad() -> None:
        db.execute_sql("INSERT INTO notes (n) VALUES (99)")
        raise events.InvalidBatch("broken")

    (lead, _), release = _hold_first_group(notes)
    good = _in_thread(lambda: notes.run(_note(1)))
    failing = _in_thread(lambda: notes.run(bad))
    _wait_for(lambda: len(notes._queue) == 2)
    release.set()
    for thread, _ in (good, failing):
        thread.join()
    lead.join()
    assert good[1]["value"] == 1
    assert isinstance(failing[1]["error"], events.InvalidBatch)
    stored = {r[0] for r in db.execute_sql("SELECT n FROM notes")}
    assert stored == {0, 1}


def test_a_job_inside_the_callers_transaction_runs_there(notes):
    with db.atomic():
        notes.run(_note(7))
    assert notes.groups == 0
    assert db.execute_sql("SELECT n FROM notes").fetchone()[0] == 7


def test_concurrent_resends_of_the_same_events_are_stored_once_with_exact_counts(
    app,
    make_user,
):
    make_catalog(open_course=True)
    learner = make_user()
    batch = events.validate_batch(
        {"events": [ev("progressed", VIDEO, {"duration_s": 30}), ev("viewed", LESSON)]}
    )
    runs = [_in_thread(lambda: events.ingest(learner, batch)) for _ in range(8)]
    for thread, _ in runs:
        thread.join()
    results = [outcome["value"] for _, outcome in runs]
    assert sum(r.accepted for r in results) == 2
    assert sum(r.duplicates for r in results) == 14
    assert Event.select().count() == 2
    assert Progress.get(Progress.item == VIDEO).time_s == 30


def test_quiz_attempts_beyond_the_limit_are_refused_alone_when_sent_together(
    app,
    make_user,
):
    make_catalog(open_course=True)
    learner = make_user()
    attempts = [
        events.validate_batch({"events": [ev("attempted", QUIZ, {"response": RIGHT})]})
        for _ in range(4)
    ]
    runs = [_in_thread(lambda b=b: events.ingest(learner, b)) for b in attempts]
    for thread, _ in runs:
        thread.join()
    stored = [outcome["value"] for _, outcome in runs if "value" in outcome]
    refused = [outcome["error"] for _, outcome in runs if "error" in outcome]
    assert len(stored) == 2  # the quiz allows 2 attempts
    assert all(isinstance(e, events.AttemptsExhausted) for e in refused) and len(refused) == 2
    assert Progress.get(Progress.item == QUIZ).attempts == 2
