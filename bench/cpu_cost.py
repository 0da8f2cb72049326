"""``python -m bench.cpu_cost``: the server's CPU time per request, page by page.

Request rates depend on what else the machine runs; the CPU time the server's processes
spend per request does much less, so this is the figure to compare an optimisation by on
a shared machine. Builds the quick benchmark site, starts ``kru serve`` (one worker unless
told), signs 50 learners in, then for each page runs wrk with 50 connections and divides
the CPU seconds the server's processes used (``/proc/<pid>/stat``, user + system) by the
requests answered. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import client
from .load import run_wrk, write_sessions
from .server import SERVICE_ENV, KruServer, byte_compile, group_memory, process_pss, process_tree
from .sitedata import PASSWORD, build_site

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds of ``pid`` and its descendants."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def context_switches(pid: int) -> int:
    """Return the context switches (voluntary and not) of every thread of ``pid``'s tree.

    On one core, each time a thread hands Python's lock to another (SQLite and socket calls
    release it) the kernel switches threads: what concurrency costs beyond the work itself.
    """
    total = 0
    for p in process_tree(pid):
        for status in Path(f"/proc/{p}/task").glob("*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            for line in text.splitlines():
                if line.endswith("ctxt_switches") or "ctxt_switches:" in line:
                    total += int(line.split()[1])
    return total


def sample(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    """Start py-spy on the server and its workers for ``seconds``, collapsed stacks to ``out``
    (sampling slows the server: read its stacks, not the rates of that run)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(  # py-spy from PATH, fixed arguments
        [
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            "200",
            "--duration",
            str(int(seconds)),
            "--output",
            str(out),
            "--nonblocking",
            "--gil",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_cost", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="length of each wrk run")
    parser.add_argument("--workers", default="1", help="KRU_WORKERS for the server")
    parser.add_argument("--gzip", action="store_true", help="ask for gzip, as phones do")
    parser.add_argument("--only", nargs="+", help="page names to measure")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="also report the server's summed PSS (parent and workers) idle and after the pages",
    )
    parser.add_argument("--data-dir", type=Path, help="reuse a site built by an earlier run")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="also sample the server with py-spy (on PATH) and write DIR/<page>.txt, "
        "collapsed stacks for a flame graph",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    byte_compile()  # the server starts from .pyc files, as on a Pi
    work = Path(tempfile.mkdtemp(prefix="kru-cpu-"))
    if args.data_dir and (args.data_dir / "site.json").exists():
        meta = json.loads((args.data_dir / "site.json").read_text())
    else:
        site = build_site(
            (args.data_dir or work / "home"), events=5000, search_lessons=20, video_bytes=1 << 20
        )
        meta = {
            "data_dir": str(site.data_dir),
            "learners": site.learners,
            "course_key": site.course_key,
            "lesson": site.lesson_keys[3],
        }
        (Path(meta["data_dir"]) / "site.json").write_text(json.dumps(meta))
    server = KruServer(
        Path(meta["data_dir"]),
        env={
            "KRU_AUTH_LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",
            "KRU_LOG_LEVEL": "WARNING",
            "KRU_WORKERS": args.workers,
            "KRU_AUTH_HASH_MEMORY_KIB": "1024",
            **SERVICE_ENV,
        },
    )
    server.start()
    try:
        memory: dict[str, object] = {}
        if args.memory:
            time.sleep(2)  # workers forked and settled
            memory["idle_pss_mb"] = round(group_memory(server.pid)["VmRSS"] / 2**20, 1)
            memory["processes"] = group_memory(server.pid)["processes"]
        sessions = []
        for name in meta["learners"][:50]:
            with client.phone() as http:
                token = client.sign_in(http, server.url, name, PASSWORD)
                sessions.append((client.session_cookie(http), token))
        if args.gzip:
            sessions = [(f"{c}\r\nAccept-Encoding: gzip", t) for c, t in sessions]
        sessions_file = write_sessions(work / "sessions.tsv", sessions)
        pack, _, slug = meta["course_key"].partition("/")
        lpack, _, lslug = meta["lesson"].partition("/")
        pages = {
            "learner_home": "/learn/",
            "course_page": f"/learn/courses/{pack}/{slug}",
            "lesson_page": f"/learn/items/{lpack}/{lslug}",
            "static_file": "/static/web/css/kru.css",
            "healthz": "/healthz",
        }
        out: dict[str, dict[str, float]] = {}
        for name, path in pages.items():
            if args.only and name not in args.only:
                continue
            run_wrk(server.url, "pages", [str(sessions_file), path], connections=50, duration_s=1)
            spy = (
                sample(server.pid, args.py_spy / f"{name}.txt", args.seconds)
                if args.py_spy
                else None
            )
            before = cpu_seconds(server.pid)
            switches = context_switches(server.pid)
            began = time.monotonic()
            result = run_wrk(
                server.url,
                "pages",
                [str(sessions_file), path],
                connections=50,
                duration_s=args.seconds,
            )
            used = cpu_seconds(server.pid) - before
            switches = context_switches(server.pid) - switches
            if spy:
                spy.wait()
            out[name] = {
                "requests": result.requests,
                "cpu_ms_per_request": round(used * 1000 / max(result.requests, 1), 3),
                "switches_per_request": round(switches / max(result.requests, 1), 1),
                "requests_per_s": round(result.rps, 1),
                "p99_ms": result.latency_ms["p99"],
                "failed": result.failed,
                "wall_s": round(time.monotonic() - began, 1),
            }
        if args.memory:
            memory["after_pss_mb"] = round(group_memory(server.pid)["VmRSS"] / 2**20, 1)
            memory["per_process_pss_mb"] = [
                round(process_pss(p) / 2**20, 1) for p in process_tree(server.pid)
            ]
            out["memory"] = memory  # type: ignore[assignment]
        out["load_average"] = {"1min": round(os.getloadavg()[0], 2)}
        print(json.dumps(out, indent=2))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
