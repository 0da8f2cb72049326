"""A real ``kru serve`` process on a free loopback port, with start/stop timing and RSS.

Memory is that of the whole server: the ``kru serve`` parent and its worker processes.
"RSS" figures are the sum of each process's PSS (``/proc/<pid>/smaps_rollup``), so pages
the forked workers share with the parent count once; peaks add up each process's VmHWM,
an upper bound. A sampler thread records the peak during one scenario.
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
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

KRU = [sys.executable, "-m", "edge_server.cli"]


# Kru's own packages, as the Pi's install.sh byte-compiles them in its virtualenv.
SOURCE_PACKAGES = ("edge_server", "content_packs", "sync")
CHECKOUT = Path(__file__).resolve().parent.parent
# As the Pi's unit runs the server: docstrings and asserts left out (kru.service).
SERVICE_ENV = {"PYTHONOPTIMIZE": "2"}
# install.sh compiles for the services (2) and for the kru command an admin runs (0).
OPTIMIZE_LEVELS = (0, 2)


def byte_compile(root: Path = CHECKOUT, libraries: bool = True) -> bool:
    """Byte-compile Kru's packages under ``root`` (``__pycache__``, git-ignored) once, and
    (``libraries``) the runtime libraries of the Pi bundle installed here, for the
    optimisation levels install.sh compiles.

    A Pi runs Kru from modules install.sh compiled (``compileall``): the server reads the
    ``.pyc`` files and compiles nothing at start. A development machine with
    ``PYTHONDONTWRITEBYTECODE=1`` (this one) would otherwise compile every module of Kru
    at every server start: about 0.2 s of CPU and 2 MB of heap more than on a Pi, in the
    start and memory figures; pip compiled the libraries for level 0 only. The server still
    only reads what is here, so a source newer than its ``.pyc`` is compiled again (Python
    checks the time stamp). Returns whether all compiled.
    """
    import compileall

    ours = all(
        compileall.compile_dir(root / name, quiet=1, workers=0, optimize=list(OPTIMIZE_LEVELS))
        for name in SOURCE_PACKAGES
        if (root / name).is_dir()
    )
    if not libraries:
        return ours
    return ours and all(
        compileall.compile_file(path, quiet=1, optimize=list(OPTIMIZE_LEVELS))
        for path in runtime_library_sources()
    )


def runtime_library_sources() -> list[Path]:
    """Return the Python files of the Pi bundle's libraries (requirements/runtime.txt) as
    installed in this environment; a library not installed here is skipped."""
    from importlib.metadata import PackageNotFoundError, distribution

    lock = CHECKOUT / "requirements" / "runtime.txt"
    names = [line.split("==")[0] for line in lock.read_text().splitlines() if "==" in line]
    sources = []
    for name in names:
        try:
            files = distribution(name.strip()).files or []
        except PackageNotFoundError:
            continue
        sources += [Path(file.locate()) for file in files if file.suffix == ".py"]
    return sources


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """Return a port on 127.0.0.1 that is free right now (TCP, or ``socket.SOCK_DGRAM``).

    The one copy for the tests and the benchmarks: each server asks for its own port, so
    two pytest-xdist workers never share one.
    """
    with socket.socket(socket.AF_INET, kind) as sock:
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


def process_tree(pid: int) -> list[int]:
    """Return ``pid`` and its descendants (the server's worker processes)."""
    tree = [pid]
    for parent in tree:
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as fh:
                tree.extend(int(child) for child in fh.read().split())
        except OSError:
            continue
    return tree


def process_pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return read_status(pid).get("VmRSS", 0)


def group_memory(pid: int) -> dict[str, int]:
    """Return the server's memory: VmRSS = summed PSS now, VmHWM = summed peaks, processes."""
    pids = process_tree(pid)
    return {
        "VmRSS": sum(process_pss(p) for p in pids),
        "VmHWM": sum(read_status(p).get("VmHWM", 0) for p in pids),
        "processes": len(pids),
    }


def wait_until_ready(
    url: str,
    timeout: float = 30.0,
    proc: subprocess.Popen | None = None,
    statuses: tuple[int, ...] = (200,),
) -> dict:
    """Poll ``url`` until it answers one of ``statuses`` (200) with JSON; return the JSON.

    Raises:
        RuntimeError: the server exited or did not answer in time.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code in statuses:
                return json.loads(exc.read())
            last = exc
            time.sleep(0.01)
        except OSError as exc:
            last = exc
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer within {timeout}s: {last}")


class RssSampler:
    """Sample a process's RSS every ``interval`` seconds in a thread; keep the peak."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.start_rss = group_memory(pid)["VmRSS"]
        self.peak = self.start_rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, group_memory(self.pid)["VmRSS"])

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, group_memory(self.pid)["VmRSS"])

    @property
    def growth(self) -> int:
        return max(self.peak - self.start_rss, 0)


class KruServer:
    """A ``kru`` server subprocess on its own data home and a free loopback port.

    The one live server of the tests and the benchmarks: ``kru serve`` by default,
    ``command=("central", "serve")`` for the central server. ``start`` waits for
    ``ready`` to answer (with one of ``ready_statuses``) and records ``start_s``; ``stop``
    records ``stop_s``.
    """

    def __init__(
        self,
        data_dir: Path,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        *,
        command: Sequence[str] = ("serve",),
        ready: str = "/healthz",
        port: int | None = None,
        ready_statuses: tuple[int, ...] = (200,),
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.command = list(command)
        self.ready = ready
        self.ready_statuses = ready_statuses
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir.parent / f"{self.command[0]}-{self.port}.log"
        self.start_s: float | None = None
        self.stop_s: float | None = None
        self.preexec = preexec  # run in the child before exec (cores, cgroups: bench.profiles)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> KruServer:
        """Start the server and wait until it answers; ``start_s`` is the time that took.

        Raises:
            RuntimeError: it exited or did not answer within ``timeout`` (with its log).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [*KRU, "--data-dir", str(self.data_dir), *self.command, "--port", str(self.port)]
        with open(self.log, "ab") as out:
            began = time.monotonic()
            self.proc = subprocess.Popen(
                [*argv, *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                preexec_fn=self.preexec,
            )
        try:
            wait_until_ready(f"{self.url}{self.ready}", timeout, self.proc, self.ready_statuses)
        except RuntimeError as exc:
            self.kill()
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}; server log: {tail}") from exc
        self.start_s = time.monotonic() - began
        return self

    def memory(self) -> dict[str, int]:
        """Return the memory of the server's processes (see ``group_memory``)."""
        return group_memory(self.pid)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Send ``sig`` and wait; return the exit code (None when it never ran).

        ``stop_s`` is the time it took to exit, ``inf`` when it had to be killed after
        ``timeout``.
        """
        proc = self.proc
        if proc is None:
            return None
        began = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.stop_s = float("inf")
            return proc.returncode
        self.stop_s = time.monotonic() - began
        return code

    def kill(self) -> None:
        """Kill -9, as a power cut would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def __enter__(self) -> KruServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
