"""A real ``kru serve`` process on a free loopback port, with start/stop timing and RSS.

Memory is read from ``/proc/<pid>/status``: VmRSS (now) and VmHWM (the peak since start).
A sampler thread records the peak RSS during one scenario, since VmHWM only ever grows.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

KRU = [sys.executable, "-m", "edge_server.cli"]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_status(pid: int) -> dict[str, int]:
    """Return VmRSS and VmHWM of ``pid`` in bytes (empty when the process is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        return {}
    return out


def wait_until_ready(url: str, timeout: float, proc: subprocess.Popen | None = None) -> float:
    """Poll ``url`` until it answers 200; return the seconds it took.

    Raises:
        RuntimeError: the server exited or did not answer in time.
    """
    start = time.monotonic()
    deadline = start + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                json.loads(response.read())
                return time.monotonic() - start
        except OSError as exc:
            last = exc
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer within {timeout}s: {last}")


class RssSampler:
    """Sample a process's RSS every ``interval`` seconds in a thread; keep the peak."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.start_rss = read_status(pid).get("VmRSS", 0)
        self.peak = self.start_rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = read_status(self.pid).get("VmRSS", 0)
            self.peak = max(self.peak, rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, read_status(self.pid).get("VmRSS", 0))

    @property
    def growth(self) -> int:
        return max(self.peak - self.start_rss, 0)


class KruServer:
    """``kru serve`` on its own data home, started and stopped as a site would."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"serve-{self.port}.log"
        self.start_s: float | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> float:
        """Start the server; return seconds from exec to the first good ``/healthz``.

        Raises:
            RuntimeError: it exited or did not answer within ``timeout``.
        """
        with open(self.log_path, "ab") as out:
            began = time.monotonic()
            self.proc = subprocess.Popen(
                [*KRU, "--data-dir", str(self.data_dir), "serve", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        try:
            wait_until_ready(f"{self.url}/healthz", timeout, self.proc)
        except RuntimeError as exc:
            self.kill()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}; server log: {tail}") from exc
        self.start_s = time.monotonic() - began
        return self.start_s

    def memory(self) -> dict[str, int]:
        return read_status(self.pid)

    def stop(self, timeout: float = 10.0) -> float:
        """Send SIGTERM; return seconds until the process exited (killed after ``timeout``)."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return float("inf")
        return time.monotonic() - began

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> KruServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
