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


def test_two_workers_share_one_port_and_both_answer(live_site):
    site = live_site(["--workers", "2"])
    workers = children_of(site.proc.pid)
    answered = workers_answering(f"{site.url}/healthz", want=2)
    assert len(workers) == 2
    assert len(answered) == 2


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
    victim = min(children_of(site.proc.pid))
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: len(children_of(site.proc.pid) - {victim}) == 2)
    after = workers_answering(f"{site.url}/healthz", want=2)
    assert len(after) == 2
    assert len(after & before) == 1  # the survivor, and one new worker beside it


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
    from edge_server.site.worker_state import LEARNER_TEMPLATES, prepare_before_fork
    from edge_server.web.i18n import load_catalog

    load_catalog.cache_clear()
    prepare_before_fork(app)
    cached = {name for _loader, name in app.jinja_env.cache.keys()}
    assert set(LEARNER_TEMPLATES) <= cached
    assert load_catalog.cache_info().currsize >= 1  # the Khmer catalog
    assert not app.url_map._remap  # the URL map's matcher is built
