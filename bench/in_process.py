"""``python -m bench.in_process``: each page's CPU time in one process, without a server.

Under wrk the server's rates move with whatever else the machine runs; calling the site's
WSGI app directly, one request after another, does not. This builds the quick benchmark
site (or reuses ``--data-dir``), makes the app as ``kru serve`` does (one kept database
connection), signs one learner in, and for each page answers ``--requests`` requests
``--rounds`` times, keeping the round with the least CPU time (``time.process_time``).
It also counts each page's SQL statements. Prints one JSON object; ``--profile PAGE``
prints cProfile's 40 most expensive functions of that page instead.

On one core a page costs about twice under wrk's 50 connections what it costs here (the
static file too), so the ratio of two pages here is close to the ratio of their rates in
``python -m bench --profile pi4`` (docs/performance.md).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .sitedata import PASSWORD, build_site

USER_AGENT = "kru-bench-in-process"


def _site(data_dir: Path | None) -> dict[str, Any]:
    if data_dir and (data_dir / "site.json").exists():
        return json.loads((data_dir / "site.json").read_text())
    home = data_dir or Path(tempfile.mkdtemp(prefix="kru-inproc-")) / "home"
    site = build_site(home, events=5000, search_lessons=20, video_bytes=1 << 20)
    meta = {
        "data_dir": str(site.data_dir),
        "learners": site.learners,
        "course_key": site.course_key,
        "lesson": site.lesson_keys[3],
    }
    (site.data_dir / "site.json").write_text(json.dumps(meta))
    return meta


def _requester(app: Any, path: str, cookie: str) -> Callable[[], str]:
    """Return a function answering one GET of ``path`` as a signed-in phone; it returns the
    status line."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        path=path,
        headers={"Cookie": cookie, "User-Agent": USER_AGENT, "Host": "localhost"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_environ()
    status: list[str] = []

    def start_response(line: str, headers: list[Any], exc_info: Any = None) -> None:
        status.append(line)

    def request() -> str:
        status.clear()
        body = app({**environ, "wsgi.input": io.BytesIO(b"")}, start_response)
        try:
            for _chunk in body:
                pass
        finally:
            getattr(body, "close", lambda: None)()
        return status[0]

    return request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.in_process", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="reuse (or build here) the quick site")
    parser.add_argument("--requests", type=int, default=500, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the cheapest is kept")
    parser.add_argument("--only", nargs="+", help="page names to measure")
    parser.add_argument("--profile", metavar="PAGE", help="print cProfile's top of one page")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    meta = _site(args.data_dir)

    from edge_server.base.db import db
    from edge_server.site.app import create_app

    app = create_app({"data_dir": meta["data_dir"], "log_level": "WARNING"})
    app.config["KRU_KEEP_DB_CONNECTIONS"] = True  # as ``kru serve``: one connection kept
    phone = app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = USER_AGENT
    token = phone.get("/api/v1/session").get_json()["csrf_token"]
    signed_in = phone.post(
        "/api/v1/session",
        json={"username": meta["learners"][0], "password": PASSWORD},
        headers={"X-CSRFToken": token},
    )
    if signed_in.status_code != 200:
        raise SystemExit(f"sign-in of {meta['learners'][0]} answered {signed_in.status_code}")
    cookie = "; ".join(f"{c.key}={c.value}" for c in phone._cookies.values())
    pages = {
        "learner_home": "/learn/",
        "course_page": f"/learn/courses/{meta['course_key']}",
        "lesson_page": f"/learn/items/{meta['lesson']}",
        "static_file": "/static/web/css/kru.css",
    }
    requests = {
        name: _requester(app, path, cookie)
        for name, path in pages.items()
        if not args.only or name in args.only
    }
    statements: dict[str, int] = {}
    for name, request in requests.items():
        line = request()  # the first request of a page fills what the process keeps
        if not line.startswith("200"):
            raise SystemExit(f"{pages[name]} answered {line}")
        seen: list[str] = []
        db.connection().set_trace_callback(seen.append)
        request()
        db.connection().set_trace_callback(None)
        statements[name] = len(seen)
    if args.profile:
        import cProfile
        import pstats

        request = requests[args.profile]
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [request() for _ in range(args.requests)])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        return 0
    out: dict[str, Any] = {}
    for name, request in requests.items():
        best = float("inf")
        for _ in range(args.rounds):
            began = time.process_time()
            for _ in range(args.requests):
                request()
            best = min(best, time.process_time() - began)
        out[name] = {
            "cpu_ms_per_request": round(best * 1000 / args.requests, 3),
            "sql_statements": statements[name],
        }
    if "static_file" in out:
        static = out["static_file"]["cpu_ms_per_request"]
        for found in out.values():
            found["static_to_page"] = round(static / found["cpu_ms_per_request"], 2)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
