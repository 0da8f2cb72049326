"""Sign-in rate limiting, counted in the database (the site's, or the central server's).

Attempts are rows of ``login_attempts`` (a sliding window per key), so every server worker
process shares one count and a restart does not reset it. Both servers' migrations create
that table. Three windows are kept: per address, per username from one address, and per
account from every address together (every phone on the Wi-Fi is a new address, so the first
two alone let a class guess one account at 10 tries a minute per phone). A successful sign-in
is not counted. Limits are written like "10 per minute" (per second, minute, hour or day).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peewee import Database, SqliteDatabase

from ..base.errors import N_, ConfigError, KruError

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_LIMIT = re.compile(r"^\s*(\d+)\s*(?:per|/)\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)
_FORGET_AFTER_S = 86400  # rows older than the longest window are deleted as we go
_MAX_NAME = 100  # a typed username is kept to this length in a key (keys are VARCHAR(400))


class RateLimited(KruError):
    """Too many sign-in attempts; ``retry_after`` seconds to wait, ``scope`` of the limit.

    ``scope`` is ``account`` when the account itself is locked (from every address), else
    ``address``.
    """

    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int, scope: str = "address") -> None:
        details = {"scope": scope, "retry_after": retry_after}
        if scope == "account":
            super().__init__(
                N_(
                    "This account is locked after too many wrong passwords. Try again in "
                    "%(minutes)s minute(s), or ask your instructor to unlock it."
                ),
                details=details,
                minutes=math.ceil(retry_after / 60),
            )
        else:
            super().__init__(
                N_("Too many sign-in attempts; wait %(seconds)s seconds and try again"),
                details=details,
                seconds=retry_after,
            )
        self.retry_after = retry_after
        self.scope = scope

    def with_digits(self, digits: Callable[[object], str]) -> RateLimited:
        """Return this error with its numbers written by ``digits`` (Khmer on a Khmer page)."""
        shown = RateLimited(self.retry_after, self.scope)
        shown.params = {k: digits(v) for k, v in self.params.items()}
        return shown


def parse_limit(text: str) -> tuple[int, int]:
    """Return (attempts, window in seconds) of a limit such as "10 per minute".

    Raises:
        ConfigError: the text is not a limit.
    """
    match = _LIMIT.match(text or "")
    if not match or int(match.group(1)) < 1:
        raise ConfigError(N_('Rate limit %(limit)s is not like "10 per minute"'), limit=repr(text))
    return int(match.group(1)), _UNITS[match.group(2).lower()]


def _name(username: str) -> str:
    return (username or "").strip().lower()[:_MAX_NAME]


def _account_key(username: str) -> str:
    return f"acct:{_name(username)}"


def _user_key(username: str, address: str) -> str:
    return f"user:{_name(username)}@{address}"


@dataclass(frozen=True)
class Attempt:
    """The rows one counted sign-in attempt wrote (removed again if it succeeds)."""

    keys: tuple[str, ...]
    at: float


class LoginLimiter:
    """Count sign-in attempts per address, per (username, address) and per account."""

    def __init__(
        self,
        database: Database,
        per_user: str,
        per_address: str,
        per_account: str = "30 per hour",
        enabled: bool = True,
    ) -> None:
        self.db = database
        self.enabled = enabled
        self._per_user = parse_limit(per_user)
        self._per_address = parse_limit(per_address)
        self._per_account = parse_limit(per_account)

    @classmethod
    def from_settings(cls, database: Database, settings: Any) -> LoginLimiter:
        """Return the limiter the ``auth.*`` settings describe, counting in ``database``.

        Raises:
            ConfigError: a limit is not like "10 per minute".
        """
        return cls(
            database,
            settings["auth.login_limit"],
            settings["auth.login_limit_per_address"],
            settings["auth.login_limit_per_account"],
            enabled=settings["auth.rate_limit"],
        )

    def _atomic(self):  # a peewee transaction
        lock = ("IMMEDIATE",) if isinstance(self.db, SqliteDatabase) else ()
        return self.db.atomic(*lock)

    def _wait(self, key: str, limit: tuple[int, int], now: float) -> int | None:
        """Return the seconds until ``key`` may try again, or None when it may now."""
        allowed, window = limit
        p = self.db.param
        count, oldest = self.db.execute_sql(
            f"SELECT count(*), min(at) FROM login_attempts WHERE key = {p} AND at > {p}",  # noqa: S608 - p is the driver param
            (key, now - window),
        ).fetchone()
        if count >= allowed:
            return max(1, int(oldest + window - now) + 1)
        return None

    def hit(self, address: str, username: str) -> Attempt | None:
        """Record one attempt, in one short write transaction.

        Returns what was recorded (None when limiting is off), for ``forget``.

        Raises:
            RateLimited: with the seconds until another attempt is allowed; not recorded.
        """
        if not self.enabled:
            return None
        now = time.time()
        checks = (
            (_account_key(username), self._per_account, "account"),
            (f"addr:{address}", self._per_address, "address"),
            (_user_key(username, address), self._per_user, "address"),
        )
        p = self.db.param
        with self._atomic():
            self.db.execute_sql(
                f"DELETE FROM login_attempts WHERE at < {p}",  # noqa: S608 - p is the driver param
                (now - _FORGET_AFTER_S,),
            )
            waits = [
                (wait, scope)
                for key, limit, scope in checks
                if (wait := self._wait(key, limit, now)) is not None
            ]
            if waits:
                raise RateLimited(*max(waits))
            self.db.execute_sql(
                f"INSERT INTO login_attempts (key, at) VALUES ({p}, {p}), ({p}, {p}), ({p}, {p})",  # noqa: S608
                (checks[0][0], now, checks[1][0], now, checks[2][0], now),
            )
        return Attempt(tuple(key for key, _limit, _scope in checks), now)

    def forget(self, attempt: Attempt | None) -> None:
        """Remove a recorded attempt again (it was a successful sign-in, which does not count)."""
        if attempt is None:
            return
        p = self.db.param
        marks = ", ".join([p] * len(attempt.keys))
        self.db.execute_sql(
            f"DELETE FROM login_attempts WHERE at = {p} AND key IN ({marks})",  # noqa: S608
            (attempt.at, *attempt.keys),
        )

    def account_lock(self, username: str) -> int | None:
        """Return the seconds until ``username``'s account may be tried again, or None."""
        if not self.enabled:
            return None
        return self._wait(_account_key(username), self._per_account, time.time())

    def unlock(self, username: str) -> None:
        """Forget the failed attempts at ``username`` from every address (lift its lock)."""
        p = self.db.param
        pattern = _user_key(username, "").replace("\\", "\\\\")
        pattern = pattern.replace("%", "\\%").replace("_", "\\_") + "%"
        with self._atomic():
            self.db.execute_sql(
                f"DELETE FROM login_attempts WHERE key = {p} OR key LIKE {p} ESCAPE '\\'",  # noqa: S608
                (_account_key(username), pattern),
            )
