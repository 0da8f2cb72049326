"""The hot paths of a class: the course page, a lesson page, and progress events."""

from __future__ import annotations

import secrets
import sqlite3
from typing import Any

import requests

from .. import client
from ..core import Bench, NotAvailable, Scenario, Target
from ..load import run_wrk, write_sessions

CONNECTIONS = 50
EVENT_BATCH = 20


def _check_page(bench: Bench, path: str) -> None:
    """Fail early, with the reason, when the page is not there or not for a learner."""
    cookie = bench.sessions[0][0]
    response = requests.get(
        bench.url + path, headers={"Cookie": cookie}, timeout=client.TIMEOUT, allow_redirects=False
    )
    if response.status_code == 404:
        raise NotAvailable(f"{path} answers 404")
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code} to a signed-in learner")


def _page(bench: Bench, path: str) -> dict[str, Any]:
    if not bench.sessions:
        raise RuntimeError("no signed-in learners (the login storm failed)")
    _check_page(bench, path)
    sessions = write_sessions(bench.workdir / "sessions.tsv", bench.sessions)
    result = run_wrk(
        bench.url,
        "pages",
        [str(sessions), path],
        connections=CONNECTIONS,
        duration_s=bench.durations.load_s,
    )
    return {"path": path, "connections": CONNECTIONS, **result.figures()}


def _item_path(key: str) -> str:
    pack, _, slug = key.partition("/")
    return f"/learn/items/{pack}/{slug}"


def course_page(bench: Bench) -> dict[str, Any]:
    pack, _, slug = bench.site.course_key.partition("/")
    return _page(bench, f"/learn/courses/{pack}/{slug}")


def lesson_page(bench: Bench) -> dict[str, Any]:
    return _page(bench, _item_path(bench.site.lesson_keys[3]))


def count_events(bench: Bench) -> int:
    """Return the number of events in the site database (read-only connection)."""
    uri = f"file:{bench.site.data_dir / 'kru.sqlite3'}?mode=ro"
    con = sqlite3.connect(uri, uri=True, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        con.close()


def post_events(bench: Bench) -> dict[str, Any]:
    if not bench.sessions:
        raise RuntimeError("no signed-in learners (the login storm failed)")
    probe = requests.post(
        f"{bench.url}/api/v1/events",
        json={"events": []},
        headers={"Cookie": bench.sessions[0][0], "X-CSRFToken": bench.sessions[0][1]},
        timeout=client.TIMEOUT,
    )
    if probe.status_code in (404, 405):
        raise NotAvailable("POST /api/v1/events is not there")
    sessions = write_sessions(bench.workdir / "sessions.tsv", bench.sessions)
    items = ",".join(bench.site.lesson_keys[:10])
    before = count_events(bench)
    result = run_wrk(
        bench.url,
        "events",
        [str(sessions), str(EVENT_BATCH), items, secrets.token_hex(4)],
        connections=CONNECTIONS,
        duration_s=bench.durations.load_s,
    )
    stored = count_events(bench) - before
    return {
        "connections": CONNECTIONS,
        "batch": EVENT_BATCH,
        "events_stored": stored,
        "events_per_s": round(stored / result.duration_s, 1),
        **result.figures("batch_"),
    }


COURSE_PAGE = Scenario(
    "course_page",
    "Learner course page, signed in, 50 connections",
    course_page,
    (
        Target("Course page (req/s, 50 conn.)", "requests_per_s", ">=", 400, "req/s"),
        Target("Course page p99 (ms)", "p99_ms", "<=", 300, "ms"),
    ),
)

LESSON_PAGE = Scenario(
    "lesson_page",
    "Learner lesson page, signed in, 50 connections",
    lesson_page,
    (
        Target("Lesson page (req/s, 50 conn.)", "requests_per_s", ">=", 400, "req/s"),
        Target("Lesson page p99 (ms)", "p99_ms", "<=", 300, "ms"),
    ),
)

EVENTS = Scenario(
    "events",
    "POST /api/v1/events, batches of 20, 50 learners, synchronous=FULL",
    post_events,
    (
        Target("Events stored (events/s)", "events_per_s", ">=", 5000, "events/s"),
        Target("Events batch p99 (ms)", "batch_p99_ms", "<=", 300, "ms"),
    ),
)
