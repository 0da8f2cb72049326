"""Run a WSGI app on waitress: fast start, clean stop on SIGTERM, a PID file that never blocks.

Sites run on power banks: the server must be up within seconds and stop within seconds.
A PID file left by a power cut is overwritten, since the listening socket is the real lock;
the file is held with an flock while the server runs, so ``kru restore`` can tell a live
server from a stale file (``pidlock``).

With several workers (``serve_workers``) the parent binds the listening socket once, builds
the app once (migrations included) and forks worker processes that each run waitress with
its threads on that shared socket. Python runs on one core at a time per process, so this
is what lets a Pi with 4 cores use more than one. The parent keeps the PID file, forwards
SIGTERM and SIGINT, replaces a worker that dies, and stops the group within 2 seconds.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waitress.server import BaseWSGIServer, create_server

from .bodycap import BodyCap
from .capped_channel import capped_channel
from .errors import N_, KruError
from .pidlock import PidLock

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
WORKER_HEADER = "X-Kru-Worker"
STOP_GRACE_S = 1.5  # a worker still busy after this is killed: the group stops within 2 s
RESTART_PAUSE_S = 1.0  # a worker that dies at once is not restarted in a tight loop
_PR_SET_PDEATHSIG = 1


class _Stop(SystemExit):
    """Raised by the stop-signal handler to leave waitress's loop.

    A SystemExit: waitress's loop hands every other exception raised while it reads or
    writes a connection to that connection's error handler (it re-raises only ExitNow,
    KeyboardInterrupt and SystemExit), so a plain exception landing there was swallowed and
    the server went on serving after SIGTERM.
    """


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop()


def write_pid_file(path: Path) -> PidLock:
    """Record this process's PID, locked while it runs; a stale file is simply replaced."""
    return PidLock.acquire(path)


def _remove_pid_file(lock: PidLock | None) -> None:
    if lock is not None:
        lock.release()


def bound_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas so freed password-hash buffers are reused across threads.

    Each waitress thread otherwise gets its own arena that keeps a freed 16 MiB Argon2
    buffer: a login storm of 50 left the server 130 MB larger for good (bench/, issue 9).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, arenas)  # -8 is M_ARENA_MAX
        # A fixed mmap threshold (-3, M_MMAP_THRESHOLD) turns off glibc's dynamic one,
        # which rises to 16 MiB after the first Argon2 buffer is freed and from then on
        # keeps every such buffer in the heap; mmapped buffers go back to the OS at free.
        libc.mallopt(-3, 1024 * 1024)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to cap


def trim_heap() -> None:
    """Give the C heap's free memory back to the OS (glibc's ``malloc_trim``).

    Run in the parent before it forks its workers: what building the app freed (compiling
    templates, migrations) would otherwise stay in the heap of the parent and of every
    worker (issue 22).
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


def _bind_failed(host: str, port: int, exc: OSError) -> KruError:
    return KruError(
        N_("Cannot listen on %(host)s:%(port)s: %(problem)s"),
        code="bind_failed",
        host=host,
        port=port,
        problem=exc.strerror or str(exc),
    )


def _trusted_proxies(app: Callable) -> int:
    """Return how many reverse proxies the Flask ``app`` believes (setting trusted_proxies)."""
    return int(getattr(app, "config", {}).get("KRU_TRUSTED_PROXIES", 0))


def _proxy_options(trusted_proxies: int) -> dict[str, Any]:
    """Return waitress's options for X-Forwarded-* headers.

    With no configured proxy, only the site's own TLS front (nginx on the same Pi, issue 23)
    is believed about which phone asked and that it came over HTTPS; other senders' headers
    are dropped. With ``trusted_proxies`` set (a server behind the ministry's reverse proxy),
    the headers reach the app's ProxyFix, which takes only the hops it was told to trust.
    """
    if trusted_proxies:
        return {"clear_untrusted_proxy_headers": False}
    return {
        "clear_untrusted_proxy_headers": True,
        "trusted_proxy": "127.0.0.1",
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
    }


def _waitress(
    app: Callable,
    threads: int,
    connection_limit: int,
    cap: BodyCap | None,
    trusted_proxies: int = 0,
    **where: Any,
):
    limits: dict[str, Any] = {} if cap is None else {"max_request_body_size": cap.max_bytes + 1}
    server = create_server(
        app,
        threads=threads,
        connection_limit=connection_limit,
        channel_timeout=60,
        cleanup_interval=30,
        ident="kru",
        **_proxy_options(trusted_proxies),
        **limits,
        **where,
    )
    if cap is not None:
        channel = capped_channel(cap.route_cap)
        for listener in [server, *getattr(server, "map", {}).values()]:
            if isinstance(listener, BaseWSGIServer):
                listener.channel_class = channel
    return server


def _run_until_stopped(server) -> None:  # a waitress server
    """Run ``server`` until SIGTERM or SIGINT, then close it and its threads."""
    previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
    try:
        server.run()
    except _Stop:
        log.info("stopping")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=STOP_GRACE_S)


def serve_wsgi(
    app: Callable,
    *,
    host: str,
    port: int,
    threads: int,
    connection_limit: int = 200,
    body_cap: BodyCap | None = None,
    pid_file: Path | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` in this process until SIGTERM or SIGINT.

    ``body_cap``: a body over its route's cap is refused as soon as its headers arrive
    (or, sent chunked, as it grows past the cap), never read (``capped_channel``).

    Raises:
        KruError: the address is in use or cannot be bound.
    """
    bound_malloc_arenas()
    try:
        server = _waitress(
            app, threads, connection_limit, body_cap, _trusted_proxies(app), host=host, port=port
        )
    except OSError as exc:
        raise _bind_failed(host, port, exc) from exc
    lock = write_pid_file(pid_file) if pid_file is not None else None
    url = f"http://{host}:{server.effective_port}/"
    log.info("serving on %s with %s threads", url, threads)
    if on_ready:
        on_ready(url)
    try:
        _run_until_stopped(server)
    finally:
        _remove_pid_file(lock)


def bind_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """Bind and listen on ``host:port`` once, for every worker to share.

    Raises:
        KruError: the address is in use or cannot be bound.
    """
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise _bind_failed(host, port, exc) from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise _bind_failed(host, port, exc) from exc
    sock.set_inheritable(True)
    return sock


def with_worker_header(app: Callable, tag: str) -> Callable:
    """Wrap ``app`` so every answer carries ``tag``, naming the worker process that gave it.

    The tag is random, made when the worker starts and written to the log beside its PID:
    it tells workers apart without giving anyone on the Wi-Fi the server's process ids.
    """

    def tagged(environ: dict, start_response: Callable):
        def start(status: str, headers: list, exc_info: object = None):
            headers.append((WORKER_HEADER, tag))
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return tagged


def _die_with_parent(parent: int) -> None:
    """Ask Linux to send SIGTERM to this worker when the parent dies (kill -9, power loss).

    A parent that died between the fork and this call sends nothing: then leave at once.
    """
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        raise _Stop()


def _worker(
    app: Callable,
    sock: socket.socket,
    threads: int,
    connection_limit: int,
    cap: BodyCap | None,
    parent: int,
) -> None:
    """Body of a forked worker: serve on the shared socket until told to stop."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _die_with_parent(parent)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {*STOP_SIGNALS, signal.SIGCHLD})
    tag = secrets.token_hex(4)
    server = _waitress(
        with_worker_header(app, tag),
        threads,
        connection_limit,
        cap,
        _trusted_proxies(app),
        sockets=[sock],
    )
    log.info("worker %s (%s: %s) serving with %s threads", os.getpid(), WORKER_HEADER, tag, threads)
    _run_until_stopped(server)


def _fork_worker(
    app: Callable, sock: socket.socket, threads: int, connection_limit: int, cap: BodyCap | None
) -> int:
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        _worker(app, sock, threads, connection_limit, cap, parent)
    except _Stop:
        code = 0  # the parent is gone before this worker started
    except BaseException:  # a worker must never return into the parent's code
        log.exception("worker %s failed", os.getpid())
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)
    return 0  # not reached


def _stop_workers(pids: set[int]) -> None:
    """Send SIGTERM to every worker, wait a little, kill what is left, reap them all."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_GRACE_S
    while pids and time.monotonic() < deadline:
        pid, _status = os.waitpid(-1, os.WNOHANG)
        if pid:
            pids.discard(pid)
        else:
            time.sleep(0.02)
    for pid in pids:
        log.warning("worker %s did not stop in time; killing it", pid)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def serve_workers(
    app: Callable,
    *,
    host: str,
    port: int,
    threads: int,
    workers: int,
    connection_limit: int = 200,
    body_cap: BodyCap | None = None,
    pid_file: Path | None = None,
    on_ready: Callable[[str], None] | None = None,
    before_fork: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` from ``workers`` forked processes on one socket until SIGTERM or SIGINT.

    ``before_fork`` runs in the parent before each fork (close database connections there).

    Raises:
        KruError: the address is in use or cannot be bound.
    """
    bound_malloc_arenas()
    sock = bind_socket(host, port)
    watched = {*STOP_SIGNALS, signal.SIGCHLD}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    pids: set[int] = set()
    lock: PidLock | None = None
    # Objects made so far (the app, its imports) move to a generation the collector never
    # scans, so workers do not write to those pages and copy-on-write keeps them shared.
    gc.collect()
    trim_heap()
    gc.freeze()
    try:
        if pid_file is not None:
            lock = write_pid_file(pid_file)
        for _ in range(workers):
            if before_fork:
                before_fork()
            pids.add(_fork_worker(app, sock, threads, connection_limit, body_cap))
        url = f"http://{host}:{sock.getsockname()[1]}/"
        log.info("serving on %s with %s workers of %s threads", url, workers, threads)
        if on_ready:
            on_ready(url)
        _supervise(app, sock, threads, connection_limit, body_cap, pids, before_fork)
    finally:
        _stop_workers(pids)
        sock.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        _remove_pid_file(lock)


def _supervise(
    app: Callable,
    sock: socket.socket,
    threads: int,
    connection_limit: int,
    cap: BodyCap | None,
    pids: set[int],
    before_fork: Callable[[], None] | None,
) -> None:
    """Wait for a stop signal; replace any worker that exits meanwhile."""
    watched = [*STOP_SIGNALS, signal.SIGCHLD]
    started = {pid: time.monotonic() for pid in pids}
    while True:
        info = signal.sigtimedwait(watched, 5.0)
        if info is not None and info.si_signo in STOP_SIGNALS:
            log.info("stopping %s workers", len(pids))
            return
        while pids:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            pids.discard(pid)
            log.warning(
                "worker %s exited (status %s); starting another",
                pid,
                os.waitstatus_to_exitcode(status),
            )
            if time.monotonic() - started.pop(pid, 0.0) < RESTART_PAUSE_S:
                if signal.sigtimedwait(list(STOP_SIGNALS), RESTART_PAUSE_S) is not None:
                    return
            if before_fork:
                before_fork()
            new = _fork_worker(app, sock, threads, connection_limit, cap)
            pids.add(new)
            started[new] = time.monotonic()


def _memory_mb() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


# A second server process costs 40-55 MB; below this much memory one process serves.
TWO_WORKERS_MIN_MB = 6144


def auto_workers(cores: int | None = None, memory_mb: int | None = None) -> int:
    """Return how many worker processes suit this machine (the setting ``workers = 0``).

    One per core, at most 2, and 2 only with 6 GB of memory or more (a Pi 4 or 5 with 8 GB,
    a PC). On a Pi with 4 GB or less one process serves: on the ``pi4`` bench profile it
    answered learner pages as fast as two, with a shorter wait for the slowest, in 45 MB
    instead of 60 at rest and 60 instead of 100 after a class's load (docs/performance.md,
    3 December 2026); the memory it leaves is the page cache that keeps videos off the card.
    """
    cores = cores if cores is not None else (os.cpu_count() or 1)
    memory_mb = memory_mb if memory_mb is not None else _memory_mb()
    if memory_mb and memory_mb < TWO_WORKERS_MIN_MB:
        return 1
    return max(1, min(cores, 2))
