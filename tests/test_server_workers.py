"""``kru serve --workers N`` for real: one port, several processes, one PID file, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from edge_server.base.server import WORKER_HEADER, auto_workers
from tests.livesite import KRU, LiveSite, wait_until_ready


def children_of(pid: int) -> set[int]:
    """Return the PIDs whose parent is ``pid`` (read from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def worker_of(url: str) -> str:
    """Fetch ``url`` on a new connection; return the opaque tag of the worker that answered."""
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback
        response.read()
        return response.headers[WORKER_HEADER]


def workers_answering(url: str, want: int, tries: int = 200) -> set[str]:
    seen: set[str] = set()
    for _ in range(tries):
        seen.add(worker_of(url))
        if len(seen) >= want:
            break
    return seen


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def test_two_workers_share_one_port_and_both_answer(live_site):
    site = live_site(["--workers", "2"])
    workers = children_of(site.proc.pid)
    answered = workers_answering(f"{site.url}/healthz", want=2)
    assert len(workers) == 1  # the first process serves too (issue 22)
    assert len(answered) == 2


def test_the_first_process_serves_while_its_worker_is_stopped(live_site):
    # A parent that only waited kept copies of the app's pages for nothing (issue 22).
    site = live_site(["--workers", "2"])
    (worker,) = children_of(site.proc.pid)
    os.kill(worker, signal.SIGSTOP)
    try:
        answered = {worker_of(f"{site.url}/healthz") for _ in range(20)}
    finally:
        os.kill(worker, signal.SIGCONT)
    assert len(answered) == 1
    assert len(workers_answering(f"{site.url}/healthz", want=2)) == 2


def test_the_worker_header_does_not_give_away_process_ids(live_site):
    site = live_site(["--workers", "2"])
    pids = {str(pid) for pid in children_of(site.proc.pid) | {site.proc.pid}}
    answered = workers_answering(f"{site.url}/healthz", want=2)
    assert len(answered) == 2
    assert not answered & pids


def test_pid_file_names_the_parent_not_a_worker(live_site):
    site = live_site(["--workers", "2"])
    recorded = int((site.data_dir / "kru.pid").read_text())
    assert recorded == site.proc.pid


def test_sigterm_stops_every_worker_and_removes_the_pid_file(live_site):
    site = live_site(["--workers", "2"])
    workers = children_of(site.proc.pid)
    assert site.stop(signal.SIGTERM, timeout=10) == 0
    assert not any(alive(pid) for pid in workers)
    assert not (site.data_dir / "kru.pid").exists()


def test_a_killed_worker_is_replaced_and_the_site_keeps_answering(live_site):
    site = live_site(["--workers", "2"])
    before = workers_answering(f"{site.url}/healthz", want=2)
    (victim,) = children_of(site.proc.pid)
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: len(children_of(site.proc.pid) - {victim}) == 1)
    (new,) = children_of(site.proc.pid) - {victim}
    # A fresh process started like the first, not a fork of one that serves on threads.
    assert "--worker-of" in cmdline(new)
    assert wait_for(lambda: len(workers_answering(f"{site.url}/healthz", want=2)) == 2, 30)
    after = workers_answering(f"{site.url}/healthz", want=2)
    assert len(after & before) == 1  # the first process, and the new worker beside it
    assert site.stop(signal.SIGTERM, timeout=10) == 0
    assert not alive(new)
    assert not (site.data_dir / "kru.pid").exists()


def test_workers_leave_with_the_first_process_even_when_it_is_killed(live_site):
    site = live_site(["--workers", "2"])
    (forked,) = children_of(site.proc.pid)
    os.kill(forked, signal.SIGKILL)
    assert wait_for(lambda: len(children_of(site.proc.pid) - {forked}) == 1)
    (spawned,) = children_of(site.proc.pid) - {forked}
    site.kill()  # kill -9: no chance to stop them
    assert wait_for(lambda: not alive(spawned))


def test_a_worker_that_keeps_dying_is_not_restarted_in_a_tight_loop(live_site):
    # Each start costs a Pi about a second of CPU: the pause doubles while they keep dying.
    site = live_site(["--workers", "2"])
    seen: set[int] = set()
    gaps = []
    killed_at = None
    for _ in range(4):  # each killed as soon as it is seen
        assert wait_for(lambda: len(children_of(site.proc.pid) - seen) == 1, timeout=20)
        if killed_at is not None:
            gaps.append(time.monotonic() - killed_at)
        (pid,) = children_of(site.proc.pid) - seen
        seen.add(pid)
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
    assert [gap > pause - 0.05 for gap, pause in zip(gaps, (1, 2, 4), strict=True)] == [True] * 3
    assert wait_for(lambda: len(children_of(site.proc.pid) - seen) == 1, timeout=20)
    assert wait_for(lambda: len(workers_answering(f"{site.url}/healthz", want=2)) == 2, 30)


@pytest.mark.parametrize(
    ("worker_of", "expected"),
    [("1:0", "not started by the Kru server 1"), ("PPID:0", "not the server's listening socket")],
    ids=["not-our-parent", "not-a-socket"],
)
def test_a_worker_without_its_server_is_one_clear_line_and_exit_1(tmp_path, worker_of, expected):
    worker_of = worker_of.replace("PPID", str(os.getpid()))
    result = subprocess.run(
        [*KRU, "--data-dir", str(tmp_path / "home"), "serve", "--worker-of", worker_of],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "home").exists()  # refused before touching the data home


def test_stale_pid_file_does_not_block_start_with_workers(tmp_path, live_site):
    home = tmp_path / "home"
    home.mkdir()
    (home / "kru.pid").write_text("999999\n")
    site = live_site(["--workers", "2"], data_dir=home)
    assert wait_until_ready(f"{site.url}/healthz")["status"] == "ok"
    assert (home / "kru.pid").read_text().strip() == str(site.proc.pid)


def test_a_sign_in_on_one_worker_holds_on_every_worker(tmp_path, live_site):
    home = tmp_path / "home"
    subprocess.run(
        [*KRU, "--data-dir", str(home), "user", "add", "amy", "--password", "lotus-pond-7"],
        check=True,
        capture_output=True,
        timeout=60,
        env={**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024"},
    )
    site = live_site(["--workers", "2"], data_dir=home)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    url = f"{site.url}/api/v1/session"
    token = json.loads(opener.open(url, timeout=5).read())["csrf_token"]
    sign_in = urllib.request.Request(
        url,
        data=json.dumps({"username": "amy", "password": "lotus-pond-7"}).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    opener.open(sign_in, timeout=5).read()
    seen: dict[str, str] = {}
    for _ in range(200):
        with opener.open(url, timeout=5) as response:
            user = json.loads(response.read())["user"]
            seen[response.headers[WORKER_HEADER]] = user and user["username"]
        if len(seen) == 2:
            break
    assert list(seen.values()) == ["amy", "amy"]


@pytest.mark.parametrize(
    ("cores", "memory_mb", "expected"),
    [(4, 3800, 1), (4, 1900, 1), (4, 7800, 2), (2, 24000, 2), (1, 16000, 1), (4, 905, 1)],
    ids=["pi4-4gb", "pi4-2gb", "pi4-8gb", "this-machine", "one-core", "pi3b-1gb"],
)
def test_auto_workers_fits_cores_and_memory(cores, memory_mb, expected):
    assert auto_workers(cores=cores, memory_mb=memory_mb) == expected


def test_negative_workers_is_one_clear_line_and_exit_1(tmp_path):
    result = subprocess.run(
        [*KRU, "--data-dir", str(tmp_path / "home"), "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "KRU_WORKERS": "-1"},
    )
    assert result.returncode == 1
    assert "workers" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _probe_answers(site: LiveSite, tries: int = 200) -> dict[str, int]:
    """Ask Android's captive-portal probe on new connections until both workers answered."""
    import http.client

    answers: dict[str, int] = {}
    for _ in range(tries):
        conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
        try:
            conn.request("GET", "/generate_204")
            response = conn.getresponse()
            response.read()
            answers[response.headers[WORKER_HEADER]] = response.status
        finally:
            conn.close()
        if len(answers) == 2:
            break
    return answers


def test_captive_portal_lets_a_signed_in_phone_through_on_every_worker(tmp_path, live_site):
    home = tmp_path / "home"
    subprocess.run(
        [*KRU, "--data-dir", str(home), "user", "add", "amy", "--password", "lotus-pond-7"],
        check=True,
        capture_output=True,
        timeout=60,
        env={**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024"},
    )
    site = live_site(["--workers", "2"], data_dir=home)
    before = _probe_answers(site)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    url = f"{site.url}/api/v1/session"
    token = json.loads(opener.open(url, timeout=5).read())["csrf_token"]
    opener.open(
        urllib.request.Request(
            url,
            data=json.dumps({"username": "amy", "password": "lotus-pond-7"}).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": token},
        ),
        timeout=5,
    ).read()
    after = _probe_answers(site)
    assert sorted(before.values()) == [302, 302]
    assert sorted(after.values()) == [204, 204]


def test_what_every_worker_needs_is_built_before_the_fork(app):
    # Made in the parent and shared copy-on-write, not once per worker (issue 22): a
    # template renamed without this list following would stop `kru serve` at start.
    from edge_server.site.database import known_migrations
    from edge_server.site.health import kru_version
    from edge_server.site.worker_state import LEARNER_TEMPLATES, prepare_before_fork
    from edge_server.web.i18n import load_catalog

    for cached_function in (load_catalog, kru_version, known_migrations):
        cached_function.cache_clear()
    prepare_before_fork(app)
    cached = {name for _loader, name in app.jinja_env.cache.keys()}
    assert set(LEARNER_TEMPLATES) <= cached
    assert load_catalog.cache_info().currsize >= 1  # the Khmer catalog
    assert not app.url_map._remap  # the URL map's matcher is built
    # What /healthz, the readiness check's first request, reads once per process.
    assert kru_version.cache_info().currsize == 1
    assert known_migrations.cache_info().currsize == 1
