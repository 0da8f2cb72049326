"""Sign-in rate limiting, counted in the database (the site's, or the central server's).

Attempts are rows of ``login_attempts`` (a sliding window per key), so every server worker
process shares one count and a restart does not reset it. The site's table comes from
``edge_server/web/migrations``, the central server's from its own migrations. Limits are
written like
"10 per minute" (per second, minute, hour or day).
"""

from __future__ import annotations

import re
import time

from peewee import Database, SqliteDatabase

from ..base.errors import N_, ConfigError, KruError

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_LIMIT = re.compile(r"^\s*(\d+)\s*(?:per|/)\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)
_FORGET_AFTER_S = 86400  # rows older than the longest window are deleted as we go


class RateLimited(KruError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            N_("Too many sign-in attempts; wait %(seconds)s seconds and try again"),
            seconds=retry_after,
        )
        self.retry_after = retry_after


def parse_limit(text: str) -> tuple[int, int]:
    """Return (attempts, window in seconds) of a limit such as "10 per minute".

    Raises:
        ConfigError: the text is not a limit.
    """
    match = _LIMIT.match(text or "")
    if not match or int(match.group(1)) < 1:
        raise ConfigError(N_('Rate limit %(limit)s is not like "10 per minute"'), limit=repr(text))
    return int(match.group(1)), _UNITS[match.group(2).lower()]


class LoginLimiter:
    """Count sign-in attempts per address and per (address, username)."""

    def __init__(
        self, database: Database, per_user: str, per_address: str, enabled: bool = True
    ) -> None:
        self.db = database
        self.enabled = enabled
        self._per_user = parse_limit(per_user)
        self._per_address = parse_limit(per_address)

    def hit(self, address: str, username: str) -> None:
        """Record one attempt, in one short write transaction.

        Raises:
            RateLimited: with the seconds until another attempt is allowed; not recorded.
        """
        if not self.enabled:
            return
        now = time.time()
        checks = (
            (f"addr:{address}", self._per_address),
            (f"user:{address}:{username.strip().lower()}", self._per_user),
        )
        db = self.db
        p = db.param
        lock = ("IMMEDIATE",) if isinstance(db, SqliteDatabase) else ()
        with db.atomic(*lock):
            db.execute_sql(
                f"DELETE FROM login_attempts WHERE at < {p}",  # noqa: S608 - p is the driver param
                (now - _FORGET_AFTER_S,),
            )
            for key, (allowed, window) in checks:
                count, oldest = db.execute_sql(
                    f"SELECT count(*), min(at) FROM login_attempts WHERE key = {p} AND at > {p}",  # noqa: S608
                    (key, now - window),
                ).fetchone()
                if count >= allowed:
                    raise RateLimited(max(1, int(oldest + window - now) + 1))
            db.execute_sql(
                f"INSERT INTO login_attempts (key, at) VALUES ({p}, {p}), ({p}, {p})",  # noqa: S608
                (checks[0][0], now, checks[1][0], now),
            )
