"""``kru sync daemon``: sync on a timer and whenever asked (SIGUSR1, ``kru sync now``)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from edge_server.base import pidlock
from edge_server.base.datahome import DataHome
from edge_server.base.errors import N_, KruError
from edge_server.base.settings import Settings

from ..modem import heartbeat
from .agent import AlreadyRunning, RunResult, sync_once
from .status import status_from_db

log = logging.getLogger(__name__)

PID_FILE = "sync-daemon.pid"


def pid_file(home: DataHome):  # a Path
    return home.root / PID_FILE


def wake_daemon(home: DataHome) -> bool:
    """Ask a running daemon to sync now; return whether one was found.

    Only the process holding the PID file's lock is signalled: a file left by a power cut
    may name a PID that now belongs to any other process (``edge_server.pidlock``).
    """
    return pidlock.signal_owner(pid_file(home), signal.SIGUSR1)


def _heartbeat(settings: Settings, status: dict[str, Any]) -> None:
    try:
        heartbeat.maybe_send_heartbeat(settings, status)
    except Exception:  # the heartbeat must never stop the daemon
        log.exception("heartbeat failed")


def run_daemon(
    settings: Settings,
    home: DataHome,
    db: Any,
    *,
    stop: threading.Event | None = None,
    on_cycle: Callable[[RunResult | None], None] | None = None,
) -> None:
    """Sync every ``sync.interval_s`` seconds and on SIGUSR1 until SIGTERM/SIGINT or ``stop``.

    ``db`` is the site database, open (``edge_server.site.database.open_site``).
    """
    stop = stop or threading.Event()
    wake = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous: dict[signal.Signals, Any] = {}
    if in_main:
        previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, lambda *_: wake.set())

        def stop_and_wake(*_: object) -> None:
            stop.set()
            wake.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, stop_and_wake)
    running = pidlock.running_pid(pid_file(home))
    if running is not None:
        raise KruError(
            N_("The sync daemon is already running (PID %(pid)s)"),
            code="daemon_running",
            pid=running,
        )
    lock = pidlock.PidLock.acquire(pid_file(home))
    try:
        while not stop.is_set():
            wake.clear()
            result: RunResult | None = None
            try:
                result = sync_once(settings, home, db, wait=lambda s: stop.wait(s))
                log.info("sync: %s (%s events sent)", result.code, result.events_sent)
            except AlreadyRunning:
                log.info("sync: another run is in progress")
            except Exception:  # the daemon outlives any one failure
                log.exception("sync run failed")
            try:
                _heartbeat(settings, status_from_db(settings, home, db))
            except Exception:
                log.exception("sync status failed")
            finally:
                db.close()  # no connection held while waiting for the next cycle
            if on_cycle:
                on_cycle(result)
            if stop.is_set():
                break
            wake.wait(settings["sync.interval_s"])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lock.release()
