"""Password hashing with Argon2id, memory-bounded for a 1 GB Pi.

Each hash takes ``hash_memory_kib`` of memory; a semaphore lets at most
``hash_concurrency`` run at once, so a login storm of a whole class queues instead of
multiplying memory (50 phones x 16 MiB would not fit beside everything else).
"""

from __future__ import annotations

import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Hasher:
    """Hash and verify passwords with bounded memory and concurrency."""

    def __init__(self, memory_kib: int = 16384, time_cost: int = 2, concurrency: int = 2) -> None:
        self._ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self._slots = threading.BoundedSemaphore(concurrency)

    def hash(self, password: str) -> str:
        with self._slots:
            return self._ph.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """Return whether ``password`` matches ``stored_hash`` (False for a broken hash)."""
        with self._slots:
            try:
                return self._ph.verify(stored_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._ph.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def dummy_verify(self) -> None:
        """Spend the time of one verification, so unknown usernames are not revealed by timing."""
        self.verify(_DUMMY_HASH, "not-the-password")


_DUMMY_HASH = (
    "$argon2id$v=19$m=16384,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
    "0h0vD8qH6nQ3lq6m0C9pQm1e2yqj8QH3p5Gz2u3JZ8s"
)

_default: Hasher | None = None


def configure(memory_kib: int, time_cost: int, concurrency: int) -> Hasher:
    """Set the process-wide hasher from settings and return it."""
    global _default
    _default = Hasher(memory_kib, time_cost, concurrency)
    return _default


def hasher() -> Hasher:
    """Return the process-wide hasher (defaults until ``configure`` is called)."""
    global _default
    if _default is None:
        _default = Hasher()
    return _default
