"""The hot paths of a class: the course page, a lesson page, and progress events."""

from __future__ import annotations

import re
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


def _page(bench: Bench, path: str, url: str | None = None) -> dict[str, Any]:
    if not bench.sessions:
        raise RuntimeError("no signed-in learners (the login storm failed)")
    _check_page(bench, path)
    sessions = write_sessions(bench.workdir / "sessions.tsv", bench.sessions)
    result = run_wrk(
        url or bench.url,
        "pages",
        [str(sessions), path],
        connections=CONNECTIONS,
        duration_s=bench.durations.load_s,
    )
    return {"path": path, "connections": CONNECTIONS, **result.figures()}


def learner_home(bench: Bench) -> dict[str, Any]:
    return _page(bench, "/learn/")


def _item_path(key: str) -> str:
    pack, _, slug = key.partition("/")
    return f"/learn/items/{pack}/{slug}"


def course_page(bench: Bench) -> dict[str, Any]:
    pack, _, slug = bench.site.course_key.partition("/")
    return _page(bench, f"/learn/courses/{pack}/{slug}")


def lesson_page(bench: Bench) -> dict[str, Any]:
    return _page(bench, _item_path(bench.site.lesson_keys[3]))


LEARNER_PAGES = ("learner_home", "course_page", "lesson_page")


def static_file(bench: Bench) -> dict[str, Any]:
    """The first stylesheet of the lesson page, with a learner's cookie as a phone sends it.

    ``page_to_static`` is the slowest learner page's rate of this run over this rate: how
    far a page is from the cheapest answer the same server gives.
    """
    if not bench.sessions:
        raise RuntimeError("no signed-in learners (the login storm failed)")
    lesson = requests.get(
        bench.url + _item_path(bench.site.lesson_keys[3]),
        headers={"Cookie": bench.sessions[0][0]},
        timeout=client.TIMEOUT,
    )
    found = re.search(r'<link rel="stylesheet" href="([^"]+)"', lesson.text)
    if found is None:
        raise RuntimeError("the lesson page links no stylesheet")
    figures = _page(bench, found.group(1))
    rates = [
        bench.measured[name]["requests_per_s"]
        for name in LEARNER_PAGES
        if "requests_per_s" in bench.measured.get(name, {})
    ]
    if rates and figures["requests_per_s"]:
        figures["slowest_page_per_s"] = min(rates)
        figures["page_to_static"] = round(min(rates) / figures["requests_per_s"], 2)
    return figures


def https_page(bench: Bench) -> dict[str, Any]:
    """The lesson page through the TLS front (nginx, HTTPS, keep-alive like a phone)."""
    if bench.front is None:
        raise NotAvailable("no TLS front in this profile (nginx is started by pi3 and pi4)")
    return _page(bench, _item_path(bench.site.lesson_keys[3]), url=bench.front.url)


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


def _page_targets(label: str, rps: float, p99: float) -> tuple[Target, ...]:
    return (
        Target(f"{label} (req/s, 50 conn.)", "requests_per_s", ">=", rps, "req/s"),
        Target(f"{label} p99 (ms)", "p99_ms", "<=", p99, "ms"),
    )


# Issue 22: on one core (pi4) and half a core in 700 MB (pi3).
PI_PAGE_TARGETS = {"pi4": (500, 300), "pi3": (200, 600)}


def _pi_targets(label: str) -> dict[str, tuple[Target, ...]]:
    return {name: _page_targets(label, *t) for name, t in PI_PAGE_TARGETS.items()}


LEARNER_HOME = Scenario(
    "learner_home",
    "Learner home page, signed in, 50 connections",
    learner_home,
    _page_targets("Learner home", 400, 300),
    _pi_targets("Learner home"),
)

STATIC_FILE = Scenario(
    "static_file",
    "A stylesheet (static file), 50 connections; the slowest learner page against it",
    static_file,
    (
        Target("Static file (req/s, 50 conn.)", "requests_per_s", "", 0, "req/s"),
        Target("Slowest learner page / static file", "page_to_static", ">=", 0.5, ""),
    ),
)

HTTPS_PAGE = Scenario(
    "https_page",
    "Learner lesson page through the TLS front (nginx), 50 connections",
    https_page,
    (
        Target("Lesson page over HTTPS (req/s, 50 conn.)", "requests_per_s", "", 0, "req/s"),
        Target("Lesson page over HTTPS p99 (ms)", "p99_ms", "", 0, "ms"),
    ),
)

COURSE_PAGE = Scenario(
    "course_page",
    "Learner course page, signed in, 50 connections",
    course_page,
    _page_targets("Course page", 400, 300),
    _pi_targets("Course page"),
)

LESSON_PAGE = Scenario(
    "lesson_page",
    "Learner lesson page, signed in, 50 connections",
    lesson_page,
    _page_targets("Lesson page", 400, 300),
    _pi_targets("Lesson page"),
)

EVENTS = Scenario(
    "events",
    "POST /api/v1/events, batches of 20, 50 learners, synchronous=FULL",
    post_events,
    (
        Target("Events stored (events/s)", "events_per_s", ">=", 5000, "events/s"),
        Target("Events batch p99 (ms)", "batch_p99_ms", "<=", 300, "ms"),
    ),
    {
        "pi4": (Target("Events stored (events/s)", "events_per_s", ">=", 2000, "events/s"),),
        "pi3": (Target("Events stored (events/s)", "events_per_s", "", 0, "events/s"),),
    },
)
