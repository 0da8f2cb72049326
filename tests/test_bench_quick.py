"""The benchmarks must not rot: ``python -m bench --quick`` runs every scenario for real.

No test here asserts a timing (timings live in bench/results and docs/performance.md);
they check that each scenario ran against a real server and measured what it names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.core import Scenario, Target
from bench.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent


def _bench(
    *args: str, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    if not shutil.which("wrk"):
        pytest.fail("wrk is not installed: apt-get install wrk (./dev.sh test does)")
    out = tmp_path_factory.mktemp("bench-results")
    proc = _bench("--quick", "--no-docs", "--out", str(out))
    files = sorted(out.glob("*.json"))
    results = json.loads(files[-1].read_text()) if files else {}
    return proc, results


@pytest.mark.slow
def test_quick_run_exits_cleanly_and_writes_results(quick_run) -> None:
    proc, results = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert results["mode"] == "quick"


@pytest.mark.slow
def test_quick_run_covers_every_scenario(quick_run) -> None:
    _proc, results = quick_run
    assert list(results["scenarios"]) == [s.name for s in SCENARIOS]


@pytest.mark.slow
def test_every_scenario_measured_or_says_what_is_missing(quick_run) -> None:
    _proc, results = quick_run
    statuses = {name: o["status"] for name, o in results["scenarios"].items()}
    broken = {n: s for n, s in statuses.items() if s != "ok" and not s.startswith("not available")}
    assert broken == {}


@pytest.mark.slow
def test_measured_scenarios_report_every_target_figure(quick_run) -> None:
    _proc, results = quick_run
    missing = [
        (row["scenario"], row["figure"])
        for row in results["table"]
        if row["status"] == "ok" and not isinstance(row["measured"], int | float)
    ]
    assert missing == []


@pytest.mark.slow
def test_login_storm_signs_in_every_learner(quick_run) -> None:
    _proc, results = quick_run
    storm = results["scenarios"]["login_storm"]["figures"]
    assert storm["succeeded"] == storm["learners"] == 50


@pytest.mark.slow
def test_events_scenario_stores_what_it_sends(quick_run) -> None:
    _proc, results = quick_run
    events = results["scenarios"]["events"]["figures"]
    assert events["batch_failed"] == 0
    # wrk stops its clock with up to one request per connection still in flight
    answered = events["batch_requests"] * events["batch"]
    in_flight = events["connections"] * events["batch"]
    assert answered <= events["events_stored"] <= answered + in_flight


@pytest.mark.slow
def test_server_stops_cleanly_on_sigterm(quick_run) -> None:
    _proc, results = quick_run
    assert results["scenarios"]["shutdown"]["figures"]["exit_code"] == 0


def test_unknown_scenario_is_refused_with_the_known_names() -> None:
    proc = _bench("--only", "no-such-scenario", timeout=60)
    assert proc.returncode == 2
    assert "login_storm" in proc.stderr


def test_missing_wrk_is_one_line_on_stderr(tmp_path: Path) -> None:
    proc = _bench("--quick", env={"PATH": str(tmp_path)}, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "bench: wrk is not installed: apt-get install wrk (./dev.sh bench does)"
    ]


_SCENARIO = Scenario(
    "demo",
    "Demo",
    lambda bench: {},
    (Target("Demo rate (req/s)", "rps", ">=", 400, "req/s"),),
)


def test_table_marks_a_missed_target() -> None:
    rows = report.row_for(_SCENARIO, {"status": "ok", "figures": {"rps": 120.5}})
    assert "| Demo rate (req/s) | >= 400 | 120.5 | **no** |" in report.markdown_table(rows)


def test_table_shows_why_a_scenario_was_not_measured() -> None:
    outcome = {"status": "not available: no central server", "figures": {}}
    table = report.markdown_table(report.row_for(_SCENARIO, outcome))
    assert "| not available: no central server | – |" in table


def test_docs_table_is_replaced_between_the_markers_only(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(f"intro\n{report.TABLE_START}\nold\n{report.TABLE_END}\noutro\n")
    assert report.update_docs(doc, "| new |", "Measured now.")
    assert doc.read_text() == (
        f"intro\n{report.TABLE_START}\nMeasured now.\n\n| new |\n{report.TABLE_END}\noutro\n"
    )
