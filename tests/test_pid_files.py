"""PID files never point "Sync now" or ``kru restore`` at the wrong process.

After a power cut ``sync-daemon.pid`` and ``kru.pid`` name PIDs that, after the next boot,
may belong to any process of the ``kru`` user. Real processes stand in for those here: a
``sleep`` of this test's user, which SIGUSR1 (what "Sync now" sends) would kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_server.base import pidlock
from tests.conftest import form_csrf
from tests.livesite import KRU, LiveSite

ENV = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", "KRU_AUTH_HASH_TIME_COST": "1"}


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen]:
    """Another process of this user, alive, whose PID a stale PID file happens to hold."""
    proc = subprocess.Popen(["sleep", "120"])  # coreutils
    yield proc
    proc.kill()
    proc.wait()


def kru(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KRU, "--data-dir", str(home), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
    )


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen]]:
    """A real ``kru sync daemon`` (no central server: each run fails, the loop goes on)."""
    home = tmp_path / "home"
    assert kru(home, "migrate").returncode == 0
    proc = subprocess.Popen(
        [*KRU, "--data-dir", str(home), "sync", "daemon"],
        env={**ENV, "KRU_SYNC_INTERVAL_S": "3600"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_file = home / "sync-daemon.pid"
    assert wait_for(lambda: pidlock.running_pid(pid_file) == proc.pid), "daemon did not start"
    yield home, proc
    proc.terminate()
    proc.wait(timeout=20)


def sync_cycles(home: Path) -> int:
    log = home / "logs" / "sync.log"
    if not log.exists():
        return 0
    text = log.read_text()
    return text.count("sync: ") + text.count("sync run failed") + text.count("in progress")


# --- the sync daemon's PID file -----------------------------------------------------------


def test_sync_now_does_not_signal_a_process_named_by_a_stale_pid_file(tmp_path, bystander):
    home = tmp_path / "home"
    home.mkdir()
    (home / "sync-daemon.pid").write_text(f"{bystander.pid}\n")
    result = kru(home, "sync", "now")
    assert result.returncode == 1
    assert "not running" in result.stderr
    time.sleep(0.2)  # a signal, had one been sent, has landed by now
    assert bystander.poll() is None, "kru sync now killed a process that is not Kru's"


def test_sync_now_button_does_not_signal_a_stale_pid(app, client, login_as, bystander):
    home = app.config["KRU_HOME"]
    (home.root / "sync-daemon.pid").write_text(f"{bystander.pid}\n")
    login_as("admin")
    page = client.get("/admin/").get_data(as_text=True)
    client.post("/language", data={"lang": "en", "csrf_token": form_csrf(page)})
    response = client.post(
        "/admin/sync/run", data={"csrf_token": form_csrf(page)}, follow_redirects=True
    )
    assert "The sync service is not running on the Pi" in response.get_data(as_text=True)
    time.sleep(0.2)
    assert bystander.poll() is None, "the Sync now button killed a process that is not Kru's"


def test_sync_now_wakes_the_real_daemon(daemon):
    home, proc = daemon
    assert wait_for(lambda: sync_cycles(home) >= 1)
    before = sync_cycles(home)
    result = kru(home, "sync", "now")
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: sync_cycles(home) > before), "the daemon did not run again"
    assert proc.poll() is None


def test_a_second_daemon_refuses_to_start(daemon):
    home, proc = daemon
    result = kru(home, "sync", "daemon", timeout=60)
    assert result.returncode == 1
    assert f"already running (PID {proc.pid})" in result.stderr
    assert pidlock.running_pid(home / "sync-daemon.pid") == proc.pid


def test_a_daemon_killed_by_a_power_cut_leaves_a_file_nobody_trusts(daemon, bystander):
    home, proc = daemon
    proc.kill()  # as a power cut: no clean-up
    proc.wait()
    pid_file = home / "sync-daemon.pid"
    assert pid_file.exists()
    assert pidlock.running_pid(pid_file) is None
    pid_file.write_text(f"{bystander.pid}\n")  # the PID now belongs to someone else
    assert kru(home, "sync", "now").returncode == 1
    time.sleep(0.2)
    assert bystander.poll() is None


def test_daemon_removes_its_pid_file_on_sigterm(daemon):
    home, proc = daemon
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert not (home / "sync-daemon.pid").exists()


# --- the server's PID file and kru restore ------------------------------------------------


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    assert kru(site, "user", "add", "sokha", "--password", "lotus-pond-7").returncode == 0
    stick = tmp_path / "usb"
    stick.mkdir()
    made = kru(site, "backup", str(stick))
    assert made.returncode == 0, made.stderr
    return Path(made.stdout.strip())


def test_restore_is_not_refused_by_a_stale_server_pid_file(tmp_path, backup, bystander):
    new_card = tmp_path / "new-card"
    new_card.mkdir()
    (new_card / "kru.pid").write_text(f"{bystander.pid}\n")  # alive, but not Kru
    result = kru(new_card, "restore", str(backup))
    assert result.returncode == 0, result.stderr
    assert (new_card / "kru.sqlite3").exists()


def test_restore_is_refused_while_the_server_runs(tmp_path, backup):
    new_card = tmp_path / "new-card"
    with LiveSite(new_card, env=ENV) as site:
        assert pidlock.running_pid(new_card / "kru.pid") == site.proc.pid
        result = kru(new_card, "restore", str(backup), "--force")
    assert result.returncode == 1
    assert "server is running" in result.stderr


def test_server_pid_file_is_released_when_the_server_is_killed(tmp_path):
    site = LiveSite(tmp_path / "home", env=ENV).start()
    site.stop(signal.SIGKILL)
    assert (site.data_dir / "kru.pid").exists()  # nothing could clean up
    # Its workers share the lock until they follow their parent (within seconds).
    assert wait_for(lambda: pidlock.running_pid(site.data_dir / "kru.pid") is None)


# --- the lock itself ----------------------------------------------------------------------

HOLDER = """
import sys, time
from pathlib import Path
from edge_server.base.pidlock import PidLock
lock = PidLock.acquire(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(120)
"""


def test_only_a_live_holder_is_signalled(tmp_path):
    path = tmp_path / "x.pid"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    with holder:
        assert holder.stdout.readline().strip() == "locked"
        assert pidlock.running_pid(path) == holder.pid
        assert pidlock.signal_owner(path, signal.SIGTERM)
        assert holder.wait(timeout=10) == -signal.SIGTERM
        assert pidlock.running_pid(path) is None
        assert not pidlock.signal_owner(path, signal.SIGTERM)
