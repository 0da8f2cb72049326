"""The Pi's clock: whether it was synchronised, and the admin's offer to set it.

A Pi has no battery-backed clock: after a power cut it starts at the time fake-hwclock saved
at the last shutdown, and without internet nothing corrects it. When the clock was not
synchronised since boot and a signed-in admin's browser is more than two minutes ahead,
the Site page offers the browser's time (issue 19); never a learner's phone, never
automatically.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..base.errors import N_, ValidationError

AHEAD_S = 120  # a browser this far ahead of an unsynchronised Pi is worth offering
# A time before this is a browser with a broken clock too (Kru did not exist before 2024).
EARLIEST = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(2100, 1, 1, tzinfo=UTC).timestamp()


def synchronised(settings: Mapping[str, Any]) -> bool:
    """Whether the system clock was synchronised over the network (timesyncd's flag file)."""
    return settings["system.clock_synced_file"].exists()


def status(settings: Mapping[str, Any], now: float | None = None) -> dict[str, Any]:
    """Return the clock card: the Pi's time (Unix ms) and whether it was synchronised."""
    now = time.time() if now is None else now
    return {
        "synchronised": synchronised(settings),
        "pi_ms": int(now * 1000),
        "pi_time": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "ahead_s": AHEAD_S,
    }


def check_offer(settings: Mapping[str, Any], browser_s: float, now: float | None = None) -> int:
    """Return the whole seconds to set the clock to, when the offer stands.

    Raises:
        ValidationError: the clock is synchronised (``clock_synchronised``), or the browser's
            time is not well ahead of the Pi's or not a plausible time (``clock_not_ahead``).
    """
    now = time.time() if now is None else now
    if synchronised(settings):
        raise ValidationError(
            N_("The Pi's clock is synchronised over the network; it is not changed by hand"),
            code="clock_synchronised",
        )
    if not (EARLIEST <= browser_s < LATEST) or browser_s - now <= AHEAD_S:
        raise ValidationError(
            N_("This browser's clock is not ahead of the Pi's; the Pi's clock was kept"),
            code="clock_not_ahead",
        )
    return int(browser_s)
