"""The clock epoch: this boot's id plus how many times the clock was changed within it.

A Pi has no battery-backed clock, so its times are right only up to an offset, and the offset
changes whenever the clock is changed: at each boot, when the admin sets it from a browser
(the Site page's offer), when NTP first reaches a time server and steps it. Events and batches
carry the epoch they were made in, so central corrects each epoch with its own offset (issue
19 item 4, issue 20 item 4). The epoch is the boot id for the first epoch of a boot (so events
recorded by a Kru before epochs existed keep their meaning) and ``<boot id>+<n>`` after the
n-th change.

A change is seen without any hook: the wall clock minus the time since boot
(``CLOCK_BOOTTIME``, which no one sets) stays constant while nobody touches the clock, and
jumps when someone does. Each process compares it with the value recorded in the data home's
``clock-epoch.json`` (written only when the epoch changes: no SD card wear while idle), under a
lock so two processes seeing the same jump count it once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
STATE_FILE = "clock-epoch.json"
# A step smaller than this is not a change of epoch: NTP slews small offsets, and reports
# need no better.
STEP_MS = 2000


@dataclass
class _State:
    boot: str
    changes: int
    base_ms: int  # wall clock minus time since boot, in this epoch
    # The base of every epoch of this boot, by its count of changes: two epochs of one boot
    # differ by the difference of their bases, so central, knowing one epoch's offset,
    # knows them all (protocol 2).
    bases: dict[int, int] = field(default_factory=dict)


_lock = threading.Lock()
_path: Path | None = None
_cached: _State | None = None
_cached_mtime: int | None = None  # of the state file when read: another process changed it


def boot_id() -> str:
    """Return this machine's boot id, or "unknown"."""
    try:
        return BOOT_ID_FILE.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def _base_ms(now: float | None = None) -> int:
    wall = time.time() if now is None else now
    return int((wall - time.clock_gettime(time.CLOCK_BOOTTIME)) * 1000)


def name(state: _State) -> str:
    return state.boot if state.changes == 0 else f"{state.boot}+{state.changes}"


def configure(data_dir: Path | None) -> None:
    """Keep the epoch's record in ``data_dir`` (None: in this process only)."""
    global _path, _cached, _cached_mtime
    with _lock:
        _path = None if data_dir is None else Path(data_dir) / STATE_FILE
        _cached = None
        _cached_mtime = None


def _mtime(path: Path | None) -> int | None:
    try:
        return None if path is None else path.stat().st_mtime_ns
    except OSError:
        return None


def _read(path: Path | None) -> _State | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        bases = {int(k): int(v) for k, v in dict(data.get("bases") or {}).items()}
        return _State(str(data["boot"]), int(data["changes"]), int(data["base_ms"]), bases)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path | None, state: _State) -> None:
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(
            json.dumps(
                {
                    "boot": state.boot,
                    "changes": state.changes,
                    "base_ms": state.base_ms,
                    "bases": {str(k): v for k, v in state.bases.items()},
                }
            ),
            encoding="utf-8",
        )
        os.replace(tmp, path)
    except OSError as exc:  # a full or read-only disk must not stop learners' events
        log.warning("could not record the clock epoch in %s: %s", path, exc)


def _settle(base: int, *, force: bool = False, seen: int | None = None) -> _State:
    """Return the epoch under the file lock, counting one change at most once.

    ``force`` starts a new epoch even without a visible step, unless another process counted
    one since this one last looked (it saw ``seen`` changes).
    """
    global _cached, _cached_mtime
    path = _path
    lock_fd = None
    try:
        if path is not None:
            try:
                lock = path.with_name(STATE_FILE + ".lock")
                lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
            except OSError:
                lock_fd = None
        boot = boot_id()
        found = _read(path)
        if found is None or found.boot != boot:
            state = _State(boot, 0, base, {0: base})
            _write(path, state)
        elif abs(found.base_ms - base) > STEP_MS or (
            force and not (seen is not None and found.changes > seen)
        ):
            state = _State(boot, found.changes + 1, base, {**found.bases, found.changes + 1: base})
            _write(path, state)
            log.info("the clock was changed: clock epoch %s", name(state))
        else:
            state = found
        _cached = state
        _cached_mtime = _mtime(path)
        return state
    finally:
        if lock_fd is not None:
            os.close(lock_fd)


def current(now: float | None = None) -> str:
    """Return the clock epoch now, noticing a change of the clock since the last call."""
    base = _base_ms(now)
    with _lock:
        cached = _cached
        if (
            cached is not None
            and abs(cached.base_ms - base) <= STEP_MS
            and _mtime(_path) == _cached_mtime
        ):
            return name(cached)
        return name(_settle(base))


def changed(now: float | None = None) -> str:
    """Start a new epoch because the clock was just set (the admin's offer); return it."""
    with _lock:
        cached = _cached
        seen = cached.changes if cached is not None and cached.boot == boot_id() else None
        return name(_settle(_base_ms(now), force=True, seen=seen))


def bases(now: float | None = None) -> dict[str, int]:
    """Return the base (wall clock minus time since boot, ms) of each epoch of this boot."""
    current(now)
    with _lock:
        state = _cached
    if state is None:
        return {}
    return {name(_State(state.boot, n, b)): b for n, b in sorted(state.bases.items())}
