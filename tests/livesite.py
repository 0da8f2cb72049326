"""Run real ``kru`` servers in subprocesses on free loopback ports, for tests and bench."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

KRU = [sys.executable, "-m", "edge_server.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> dict:
    """Poll ``url`` until it answers 200 with JSON; return the JSON.

    Raises:
        RuntimeError: the server exited or did not answer in time.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # loopback
                return json.loads(response.read())
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s: {last}")


class LiveSite:
    """A ``kru serve`` subprocess with its own data home."""

    def __init__(self, data_dir: Path, args: Sequence[str] = (), env: dict | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = list(args)
        self.env = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir.parent / f"serve-{self.port}.log"

    def start(self, timeout: float = 20.0) -> LiveSite:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(  # our own CLI
                [
                    *KRU,
                    "--data-dir",
                    str(self.data_dir),
                    "serve",
                    "--port",
                    str(self.port),
                    *self.args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        try:
            wait_until_ready(f"{self.url}/healthz", timeout, self.proc)
        except RuntimeError as exc:
            self.__exit__()
            raise RuntimeError(f"{exc}; log: {self.log.read_text()[-2000:]}") from exc
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __enter__(self) -> LiveSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
