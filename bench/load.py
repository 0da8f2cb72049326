"""Drive a server with wrk (Debian's ``wrk`` package) and return its figures by name.

wrk is C and uses little CPU per request, which matters here: the load generator and the
server share this machine's two cores. Scenario scripts live in ``bench/lua``; each is
run with ``common.lua`` prepended (sessions, status check, a JSON report).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).parent / "lua"


class LoadToolMissing(RuntimeError):
    """wrk is not installed."""


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    bytes: int
    bad_status: int
    errors: dict[str, int]
    latency_ms: dict[str, float]

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def failed(self) -> int:
        socket_errors = sum(v for k, v in self.errors.items() if k != "status")
        return self.bad_status + socket_errors

    def figures(self, prefix: str = "") -> dict[str, float]:
        """Return requests/s, latency percentiles (ms) and failures as named figures."""
        return {
            f"{prefix}requests": self.requests,
            f"{prefix}requests_per_s": round(self.rps, 1),
            f"{prefix}p50_ms": self.latency_ms["p50"],
            f"{prefix}p99_ms": self.latency_ms["p99"],
            f"{prefix}max_ms": self.latency_ms["max"],
            f"{prefix}failed": self.failed,
        }


def wrk_path() -> str:
    """Return the wrk executable.

    Raises:
        LoadToolMissing: wrk is not on PATH (``apt-get install wrk``).
    """
    found = shutil.which("wrk")
    if not found:
        raise LoadToolMissing("wrk is not installed: apt-get install wrk (./dev.sh bench does)")
    return found


def write_sessions(path: Path, sessions: list[tuple[str, str]]) -> Path:
    """Write (cookie header, csrf token) pairs for the Lua scripts; return the path."""
    path.write_text("".join(f"{cookie}\t{csrf}\n" for cookie, csrf in sessions))
    return path


def run_wrk(
    url: str,
    script: str,
    args: list[str],
    *,
    connections: int,
    duration_s: float,
    threads: int = 2,
    timeout_s: float = 10.0,
) -> WrkResult:
    """Run ``bench/lua/<script>.lua`` against ``url`` and return the parsed report.

    Raises:
        LoadToolMissing: wrk is not installed.
        RuntimeError: wrk failed or printed no report.
    """
    exe = wrk_path()
    source = (LUA / "common.lua").read_text() + "\n" + (LUA / f"{script}.lua").read_text()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix=f"kru-{script}-") as fh:
        fh.write(source)
        fh.flush()
        cmd = [
            exe,
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(int(round(duration_s)), 1)}s",
            f"--timeout={int(timeout_s)}s",
            "-s",
            fh.name,
            url,
            "--",
            *args,
        ]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration_s + timeout_s + 30, check=False
        )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON ") :])
            break
    else:
        raise RuntimeError(f"wrk printed no report: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    return WrkResult(
        requests=data["requests"],
        duration_s=data["duration_us"] / 1e6,
        bytes=data["bytes"],
        bad_status=data["bad_status"],
        errors=data["errors"],
        latency_ms={k: round(v / 1000, 1) for k, v in data["latency_us"].items()},
    )
