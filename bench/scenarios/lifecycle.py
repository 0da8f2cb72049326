"""Start time and idle memory; memory after the whole run and the time to stop on SIGTERM."""

from __future__ import annotations

import time
from typing import Any

from ..core import Bench, Scenario, Target

MB = 1024 * 1024


def startup(bench: Bench) -> dict[str, Any]:
    """Start ``kru serve`` on the full site and time it to the first good /healthz."""
    started = bench.server.start().start_s or 0.0
    time.sleep(1.0)  # let imports and lazy caches settle before reading idle memory
    memory = bench.server.memory()
    return {
        "start_s": round(started, 3),
        "idle_rss_mb": round(memory["VmRSS"] / MB, 1),
        "server_processes": memory["processes"],
        "events_stored": bench.site.events,
        "sample_pack": bench.site.sample_pack,
    }


def shutdown(bench: Bench) -> dict[str, Any]:
    """Read memory after every scenario, then send SIGTERM and time the exit."""
    memory = bench.server.memory()
    bench.server.stop()
    stopped = bench.server.stop_s or 0.0
    return {
        "final_rss_mb": round(memory["VmRSS"] / MB, 1),
        "server_processes": memory["processes"],
        "peak_rss_mb": round(memory["VmHWM"] / MB, 1),
        "stop_s": round(stopped, 3),
        "exit_code": bench.server.proc.returncode if bench.server.proc else None,
    }


STARTUP = Scenario(
    "startup",
    "Start with the sample pack and a term of events; idle memory",
    startup,
    (
        Target("Serving after start (s)", "start_s", "<=", 1.0, "s"),
        Target("Server RSS idle (MB)", "idle_rss_mb", "<=", 50, "MB"),
    ),
)

SHUTDOWN = Scenario(
    "shutdown",
    "Memory after the whole run; stop on SIGTERM",
    shutdown,
    (
        Target("Server RSS after the whole run (MB)", "final_rss_mb", "<=", 120, "MB"),
        Target("Stopped after SIGTERM (s)", "stop_s", "<=", 2.0, "s"),
    ),
)
