"""Real ``kru serve`` processes for tests: bench's one live server with cheap password hashing.

``free_port``, ``wait_until_ready`` and the server itself live in ``bench/server.py``, the
one copy the tests and the benchmarks share; the ``live_site`` fixture (conftest.py) starts
one on the test's own data home and stops it afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.server import KRU, KruServer, free_port, wait_until_ready

__all__ = ["FAST_HASH_ENV", "KRU", "LiveSite", "free_port", "wait_until_ready"]

# Cheap hashing in tests: the real cost is measured in bench/.
FAST_HASH_ENV = {"KRU_AUTH_HASH_MEMORY_KIB": "1024"}


class LiveSite(KruServer):
    """A ``kru serve`` subprocess with its own data home and the tests' cheap hashing."""

    def __init__(self, data_dir: Path, args: Sequence[str] = (), env: dict | None = None) -> None:
        super().__init__(data_dir, args, {**FAST_HASH_ENV, **(env or {})})
