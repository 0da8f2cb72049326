"""How much disk a site keeps free: the reserve that installs and uploads leave, and the warning.

A Pi whose SD card fills up stops writing learners' events and can damage its database, so
installs and uploads keep a reserve (the larger of ``disk.reserve_mb`` and
``disk.reserve_percent`` of the disk, issue 19) and the Site page and sync warn below
``disk.warn_mb``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MB = 1024 * 1024
DEFAULT_RESERVE_MB = 1024
DEFAULT_RESERVE_PERCENT = 5.0
DEFAULT_WARN_MB = 2048


def reserve_bytes(total: int, reserve_mb: int, reserve_percent: float) -> int:
    """Return the bytes to keep free on a disk of ``total`` bytes."""
    return max(reserve_mb * MB, int(total * reserve_percent / 100))


def reserve_for(path: Path, settings: Mapping[str, Any] | None = None) -> int:
    """Return the reserve for the disk holding ``path`` under ``settings`` (defaults if none)."""
    settings = settings or {}
    total = shutil.disk_usage(path).total
    return reserve_bytes(
        total,
        settings.get("disk.reserve_mb", DEFAULT_RESERVE_MB),
        settings.get("disk.reserve_percent", DEFAULT_RESERVE_PERCENT),
    )


def room_for(path: Path, settings: Mapping[str, Any] | None = None) -> int:
    """Return how many bytes may still be written on the disk of ``path`` (0 when none)."""
    free = shutil.disk_usage(path).free
    return max(0, free - reserve_for(path, settings))


def status(path: Path, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return free and total bytes, the reserve and whether the disk is low (under the warning)."""
    settings = settings or {}
    usage = shutil.disk_usage(path)
    warn = settings.get("disk.warn_mb", DEFAULT_WARN_MB) * MB
    return {
        "free_bytes": usage.free,
        "total_bytes": usage.total,
        "reserve_bytes": reserve_for(path, settings),
        "warn_bytes": warn,
        "low": usage.free < warn,
    }
