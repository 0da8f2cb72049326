"""Real ``kru serve`` processes for tests: bench's one live server with cheap password hashing.

``free_port``, ``wait_until_ready`` and the server itself live in ``bench/server.py``, the
one copy the tests and the benchmarks share; the ``live_site`` fixture (conftest.py) starts
one on the test's own data home and stops it afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.server import KRU, SERVICE_ENV, KruServer, byte_compile, free_port, wait_until_ready

__all__ = ["FAST_HASH_ENV", "KRU", "LiveSite", "free_port", "wait_until_ready"]

# Cheap hashing in tests: the real cost is measured in bench/.
FAST_HASH_ENV = {"KRU_AUTH_HASH_MEMORY_KIB": "1024"}


_compiled: list[bool] = []


class LiveSite(KruServer):
    """A ``kru serve`` subprocess with its own data home and the tests' cheap hashing, run as
    the Pi's unit runs it (``SERVICE_ENV``: docstrings and asserts left out) from modules
    byte-compiled once per test process, as install.sh compiles them on a Pi.
    """

    def __init__(
        self,
        data_dir: Path,
        args: Sequence[str] = (),
        env: dict | None = None,
        ready_statuses: tuple[int, ...] = (200,),
    ) -> None:
        super().__init__(
            data_dir,
            args,
            {**FAST_HASH_ENV, **SERVICE_ENV, **(env or {})},
            ready_statuses=ready_statuses,
        )

    def start(self, timeout: float = 60.0) -> LiveSite:
        if not _compiled:
            _compiled.append(byte_compile())
        super().start(timeout)
        return self
