"""``kru serve`` for real: waitress on loopback, /healthz, SIGTERM, stale PID files, logs."""

import os
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.livesite import KRU, free_port, wait_until_ready


def test_serves_healthz_with_version_database_and_disk(live_site):
    health = wait_until_ready(f"{live_site().url}/healthz")
    assert health["status"] == "ok"
    assert health["database"] == "ok"
    assert health["disk_free_bytes"] > 0
    assert health["version"]


def test_sigterm_stops_the_server_and_removes_the_pid_file(live_site):
    site = live_site()
    pid_file = site.data_dir / "kru.pid"
    assert pid_file.read_text().strip() == str(site.proc.pid)
    assert site.stop(signal.SIGTERM, timeout=5) == 0
    assert not pid_file.exists()


def test_stale_pid_file_from_a_power_cut_does_not_block_start(tmp_path, live_site):
    home = tmp_path / "home"
    home.mkdir()
    (home / "kru.pid").write_text("999999\n")
    site = live_site(data_dir=home)
    assert (home / "kru.pid").read_text().strip() == str(site.proc.pid)


def test_port_in_use_is_one_clear_line_and_exit_1(tmp_path, live_site):
    site = live_site()
    result = subprocess.run(
        [*KRU, "--data-dir", str(tmp_path / "b"), "serve", "--port", str(site.port)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "KRU_LOG_LEVEL": "ERROR"},
    )
    assert result.returncode == 1
    assert "Cannot listen on" in result.stderr


def test_logs_go_to_a_file_in_the_data_directory(live_site):
    site = live_site()
    urllib.request.urlopen(f"{site.url}/healthz", timeout=5).read()
    site.stop()
    log = (site.data_dir / "logs" / "kru.log").read_text()
    assert "serving on" in log


def test_config_file_sets_host_and_threads(tmp_path):
    config = tmp_path / "kru.toml"
    port = free_port()
    config.write_text(f'host = "127.0.0.1"\nport = {port}\nthreads = 2\n')
    proc = subprocess.Popen(
        [*KRU, "--config", str(config), "--data-dir", str(tmp_path / "home"), "serve"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024"},
    )
    try:
        assert wait_until_ready(f"http://127.0.0.1:{port}/healthz", proc=proc)["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("command", [["--help"], ["demo", "--help"], ["serve", "--help"]])
def test_cli_help_runs(command):
    result = subprocess.run([*KRU, *command], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "Usage:" in result.stdout


def test_demo_serves_demo_accounts(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [*KRU, "--data-dir", str(tmp_path / "demo"), "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024"},
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=proc)
        banner = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("learner5" in line for line in banner):
            banner.append(proc.stdout.readline())
        text = "".join(banner)
        assert f"http://127.0.0.1:{port}/" in text
        for name in ("admin", "instructor", "learner1", "learner5"):
            assert name in text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_under_load_still_stops_the_server(live_site, workers):
    """A stop signal that lands while waitress is busy with a request must not be lost."""
    import http.client
    import threading

    site = live_site(["--workers", workers])
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                urllib.request.urlopen(f"{site.url}/login", timeout=2).read()
            except (OSError, http.client.HTTPException):
                pass  # the server going away mid-answer is what this test does

    clients = [threading.Thread(target=hammer) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        time.sleep(1.0)
        site.proc.send_signal(signal.SIGTERM)
        assert site.proc.wait(timeout=5) == 0
    finally:
        stop.set()
        for client in clients:
            client.join()
        site.__exit__()

    def leftover() -> list[str]:
        found = subprocess.run(
            ["pgrep", "-f", str(site.data_dir)], capture_output=True, text=True, check=False
        )
        return found.stdout.split()

    # Workers leave as soon as they see their parent gone; give them until the deadline.
    deadline = time.monotonic() + 10
    while leftover() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftover() == [], "worker processes outlived the server"
