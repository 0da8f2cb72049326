"""A login storm: 50 learners press "sign in" at the same moment (issue 2 and issue 9)."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from .. import client
from ..core import Bench, Scenario, Target
from ..server import RssSampler
from ..sitedata import PASSWORD

MB = 1024 * 1024
STORM = 50


def _storm(bench: Bench, usernames: list[str]) -> dict[str, Any]:
    """Sign ``usernames`` in at once; keep their sessions for the scenarios after this one."""
    url = bench.url
    ready = threading.Barrier(len(usernames) + 1)
    done_at: list[float] = []
    sessions: list[tuple[str, str] | None] = [None] * len(usernames)
    failures: list[str] = []
    lock = threading.Lock()

    def one(i: int, username: str) -> None:
        with client.phone() as http:
            try:
                token = client.csrf_token(http, url)
            finally:
                ready.wait()
            try:
                new_token = client.post_sign_in(http, url, token, username, PASSWORD)
            except (client.SignInFailed, requests.RequestException) as exc:
                with lock:
                    failures.append(str(exc))
                return
            with lock:
                done_at.append(time.monotonic())
                sessions[i] = (client.session_cookie(http), new_token)

    workers = [threading.Thread(target=one, args=(i, u)) for i, u in enumerate(usernames)]
    for worker in workers:
        worker.start()
    with RssSampler(bench.server.pid) as sampler:
        ready.wait()
        began = time.monotonic()
        for worker in workers:
            worker.join()
    bench.sessions = [s for s in sessions if s is not None]
    hwm = bench.server.memory().get("VmHWM", 0)
    return {
        "learners": len(usernames),
        "succeeded": len(done_at),
        "failed": len(failures),
        "all_done_s": round(max(done_at) - began, 3) if done_at else None,
        "first_done_s": round(min(done_at) - began, 3) if done_at else None,
        "peak_rss_mb": round(max(sampler.peak, hwm) / MB, 1),
        "rss_growth_mb": round(sampler.growth / MB, 1),
        "hash_memory_kib": bench.site.settings["auth.hash_memory_kib"],
        "hash_time_cost": bench.site.settings["auth.hash_time_cost"],
        "hash_concurrency": bench.site.settings["auth.hash_concurrency"],
        "first_failure": failures[0] if failures else None,
    }


def login_storm(bench: Bench) -> dict[str, Any]:
    figures = _storm(bench, bench.site.learners[:STORM])
    with client.phone() as http:
        token = client.sign_in(http, bench.url, bench.site.instructor, PASSWORD)
        bench.instructor_session = (client.session_cookie(http), token)
    return figures


LOGIN_STORM = Scenario(
    "login_storm",
    "Login storm: 50 learners sign in at once (Argon2id, real cost)",
    login_storm,
    (
        Target("Login storm: last of 50 signed in (s)", "all_done_s", "<=", 5.0, "s"),
        Target("Login storm: sign-ins failed", "failed", "<=", 0, ""),
        Target("Login storm: peak server RSS (MB)", "peak_rss_mb", "<=", 300, "MB"),
    ),
)
