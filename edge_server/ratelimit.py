"""Sign-in rate limiting on the ``limits`` library, one in-memory store per app."""

from __future__ import annotations

import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from .errors import N_, KruError


class RateLimited(KruError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            N_("Too many sign-in attempts; wait %(seconds)s seconds and try again"),
            seconds=retry_after,
        )
        self.retry_after = retry_after


class LoginLimiter:
    """Count sign-in attempts per address and per (address, username)."""

    def __init__(self, per_user: str, per_address: str, enabled: bool = True) -> None:
        self.enabled = enabled
        self._per_user = parse(per_user)
        self._per_address = parse(per_address)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, address: str, username: str) -> None:
        """Record one attempt.

        Raises:
            RateLimited: with the seconds until another attempt is allowed.
        """
        if not self.enabled:
            return
        checks = (
            (self._per_address, ("addr", address)),
            (self._per_user, ("user", address, username.lower())),
        )
        for item, key in checks:
            if not self._limiter.hit(item, *key):
                stats = self._limiter.get_window_stats(item, *key)
                raise RateLimited(max(1, int(stats.reset_time - time.time()) + 1))
