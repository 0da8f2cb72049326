"""The instructor's cohort dashboard and the CSV export of a term of events."""

from __future__ import annotations

import time
from typing import Any

import requests

from .. import client
from ..core import Bench, NotAvailable, Scenario, Target
from ..load import run_wrk, write_sessions
from ..server import RssSampler

MB = 1024 * 1024


def _instructor_get(bench: Bench, path: str, **kwargs: Any) -> requests.Response:
    if bench.instructor_session is None:
        raise RuntimeError("the instructor is not signed in")
    return requests.get(
        bench.url + path,
        headers={"Cookie": bench.instructor_session[0]},
        timeout=client.TIMEOUT,
        allow_redirects=False,
        **kwargs,
    )


def dashboard(bench: Bench) -> dict[str, Any]:
    path = f"/teach/cohorts/{bench.site.cohort_id}"
    probe = _instructor_get(bench, path)
    if probe.status_code == 404:
        raise NotAvailable(f"{path} answers 404")
    if probe.status_code != 200:
        raise RuntimeError(f"{path} answered {probe.status_code}")
    assert bench.instructor_session is not None
    sessions = write_sessions(bench.workdir / "instructor.tsv", [bench.instructor_session])
    result = run_wrk(
        bench.url, "pages", [str(sessions), path], connections=1, duration_s=bench.durations.light_s
    )
    return {
        "learners": len(bench.site.learners),
        "items": len(bench.site.lesson_keys) + len(bench.site.quiz_keys) + 1,
        "page_kb": round(len(probe.content) / 1024, 1),
        **result.figures(),
    }


def csv_export(bench: Bench) -> dict[str, Any]:
    path = f"/teach/cohorts/{bench.site.cohort_id}/events.csv"
    began = time.monotonic()
    with RssSampler(bench.server.pid, interval=0.02) as sampler:
        response = _instructor_get(bench, path, stream=True)
        if response.status_code == 404:
            response.close()
            raise NotAvailable(f"{path} answers 404")
        size = 0
        lines = 0
        first_byte_s = None
        for chunk in response.iter_content(64 * 1024):
            if first_byte_s is None:
                first_byte_s = response.elapsed.total_seconds()
            size += len(chunk)
            lines += chunk.count(b"\n")
        response.close()
    total_s = time.monotonic() - began
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}")
    return {
        "events_in_site": bench.site.events,
        "rows": lines - 1,
        "csv_mb": round(size / MB, 1),
        "first_byte_s": round(first_byte_s or 0.0, 3),
        "total_s": round(total_s, 2),
        "rss_growth_mb": round(sampler.growth / MB, 1),
        "chunked": response.headers.get("Transfer-Encoding") == "chunked"
        or "Content-Length" not in response.headers,
    }


DASHBOARD = Scenario(
    "dashboard",
    "Instructor cohort dashboard, 60 learners x 50 items",
    dashboard,
    (Target("Cohort dashboard p99, one instructor (ms)", "p99_ms", "<=", 200, "ms"),),
)

CSV_EXPORT = Scenario(
    "csv_export",
    "CSV export of the cohort's events (a term: 100,000)",
    csv_export,
    (Target("CSV export: server RSS growth (MB)", "rss_growth_mb", "<=", 20, "MB"),),
)
