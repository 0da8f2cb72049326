"""Start time and idle memory; memory after the whole run and the time to stop on SIGTERM."""

from __future__ import annotations

import time
from typing import Any

from ..core import Bench, Scenario, Target

MB = 1024 * 1024


def _start_front(bench: Bench) -> None:
    """Start the profile's TLS front (nginx) on the server's cores and cgroups."""
    from ..front import Front

    bench.front = Front(bench.workdir / "front", bench.server.port).start()
    if bench.confinement is not None:
        bench.confinement.adopt(bench.front.pids())


def startup(bench: Bench) -> dict[str, Any]:
    """Start ``kru serve`` on the full site and time it to the first good /healthz.

    Idle memory is the whole server's (summed PSS) plus the TLS front's when the profile
    runs one.
    """
    started = bench.server.start().start_s or 0.0
    if bench.profile.tls_front:
        _start_front(bench)
    time.sleep(1.0)  # let imports and lazy caches settle before reading idle memory
    memory = bench.memory()
    return {
        "start_s": round(started, 3),
        "idle_rss_mb": round(memory["VmRSS"] / MB, 1),
        "idle_server_mb": round(memory["server"] / MB, 1),
        "idle_front_mb": round(memory["front"] / MB, 1),
        "server_processes": memory["processes"],
        "server_env": {k: v for k, v in bench.server.env.items() if k.startswith("KRU_")},
        "events_stored": bench.site.events,
        "sample_pack": bench.site.sample_pack,
    }


def shutdown(bench: Bench) -> dict[str, Any]:
    """Read memory after every scenario, then send SIGTERM and time the exit."""
    memory = bench.memory()
    oom_kills = (
        bench.confinement.oom_kills(memory["VmHWM"]) if bench.confinement is not None else None
    )
    if bench.front is not None:
        bench.front.stop()
        bench.front = None
    bench.server.stop()
    stopped = bench.server.stop_s or 0.0
    return {
        "final_rss_mb": round(memory["VmRSS"] / MB, 1),
        "final_server_mb": round(memory["server"] / MB, 1),
        "final_front_mb": round(memory["front"] / MB, 1),
        "oom_kills": oom_kills,
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
    {
        "pi4": (
            Target("Serving after start (s)", "start_s", "<=", 1.0, "s"),
            Target("Server and TLS front PSS idle (MB)", "idle_rss_mb", "<=", 45, "MB"),
        ),
        "pi3": (
            Target("Serving after start (s)", "start_s", "<=", 1.0, "s"),
            Target("Server and TLS front PSS idle (MB)", "idle_rss_mb", "", 0, "MB"),
        ),
    },
)

SHUTDOWN = Scenario(
    "shutdown",
    "Memory after the whole run; stop on SIGTERM",
    shutdown,
    (
        Target("Server RSS after the whole run (MB)", "final_rss_mb", "<=", 120, "MB"),
        Target("Stopped after SIGTERM (s)", "stop_s", "<=", 2.0, "s"),
    ),
    {
        "pi4": (
            Target("Server and TLS front PSS after the run (MB)", "final_rss_mb", "<=", 70, "MB"),
            Target("Stopped after SIGTERM (s)", "stop_s", "<=", 2.0, "s"),
        ),
        "pi3": (
            Target("Server and TLS front PSS after the run (MB)", "final_rss_mb", "", 0, "MB"),
            Target("Processes killed for memory (700 MB cgroup)", "oom_kills", "<=", 0, ""),
            Target("Stopped after SIGTERM (s)", "stop_s", "<=", 2.0, "s"),
        ),
    },
)
