"""Passwords: the rule a new one must follow, and hashing with Argon2id bounded for a 1 GB Pi.

The rule (``check_new_password``) is the one place every way of setting a password asks: the
admin pages, the class-list import, ``kru user``, ``kru central user``, first boot's
``kru-setup.toml`` and ``kru setup check``. Sign-in never asks it, so a password set before the
rule existed keeps working until it is changed.

Each hash takes ``hash_memory_kib`` of memory; a semaphore lets at most
``hash_concurrency`` run at once, so a login storm of a whole class queues instead of
multiplying memory (50 phones x 16 MiB would not fit beside everything else).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import N_, ValidationError

MIN_LENGTH = 8
# Passwords printed in Kru's own templates and guides: someone will leave one unchanged.
# tests/test_password_rules.py finds every example password in deploy/ and docs/ and checks
# that it is refused, so a new template cannot add one silently.
PLACEHOLDERS = frozenset({"change-me", "change-me-too", "change-me-please", "changeme"})
COMMON_LIST = Path(__file__).resolve().parent / "data" / "common-passwords.txt"


class WeakPassword(ValidationError):
    """A new password breaks the rule; ``details["reason"]`` says which part."""

    code = "weak_password"

    def __init__(self, message: str, reason: str, **params: object) -> None:
        super().__init__(message, details={"reason": reason}, **params)  # type: ignore[arg-type]
        self.reason = reason


@functools.cache
def common_passwords() -> frozenset[str]:
    """Return the bundled list of common passwords, lowercase (read once per process)."""
    with open(COMMON_LIST, encoding="utf-8") as fh:
        return frozenset(
            line.strip().lower() for line in fh if line.strip() and not line.startswith("#")
        )


def check_new_password(password: str, username: str | None = None) -> str:
    """Return ``password`` when it may be set for ``username``.

    Raises:
        WeakPassword: shorter than MIN_LENGTH, the username itself (in any case), one of the
            most common passwords, or a placeholder from Kru's own templates; ``reason`` is
            ``too_short``, ``same_as_username``, ``common`` or ``placeholder``.
    """
    password = password or ""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            N_("The password must have at least %(minimum)s characters"),
            "too_short",
            minimum=MIN_LENGTH,
        )
    folded = password.strip().casefold()
    if username and folded == username.strip().casefold():
        raise WeakPassword(N_("The password must not be the username"), "same_as_username")
    if folded in PLACEHOLDERS:
        raise WeakPassword(
            N_("This password is the example from Kru's instructions; choose your own"),
            "placeholder",
        )
    if folded in common_passwords():
        raise WeakPassword(
            N_("This password is one of the most common passwords; choose another"), "common"
        )
    return password


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
