"""Run a WSGI app on waitress: fast start, clean stop on SIGTERM, a PID file that never blocks.

Sites run on power banks: the server must be up within seconds and stop within seconds.
A PID file left by a power cut is overwritten, since the listening socket is the real lock;
the file is held with an flock while the server runs, so ``kru restore`` can tell a live
server from a stale file (``pidlock``).

With several workers (``serve_workers``) the first process binds the listening socket once,
builds the app once (migrations included), forks the other worker processes and then serves
too: each runs waitress with its threads on that shared socket. Python runs on one core at
a time per process, so this is what lets a machine with several cores use more than one.
The first process keeps the PID file, forwards SIGTERM and SIGINT, starts a fresh worker in
place of one that dies, and stops the group within 2 seconds.

Why the first process serves rather than only watching its workers (issue 22): with
CPython 3.11 every page of the app a worker uses after the fork becomes that worker's own
copy, and a parent that only waits keeps the originals of pages all its workers copied:
about 4 MB at rest and 10 MB after a class's load, for nothing. Why a worker that dies is
replaced by a new process started like the first (``spawn_worker``) and not by a fork: a
process that serves on threads may fork while another of its threads holds a lock (a
template cache's, SQLite's), and the copy would wait on it for ever.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import secrets
import select
import signal
import socket
import threading
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
RESTART_PAUSE_S = 1.0  # a worker that dies at once is not restarted in a tight loop...
RESTART_PAUSE_MAX_S = 60.0  # ...and the pause doubles while its successors die too, up to this
QUICK_DEATH_S = 10.0  # a worker that dies this soon after it started "dies at once"
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


def _run_until_stopped(
    server,  # a waitress server
    restore_mask: set[int | signal.Signals] | None = None,
    before_close: Callable[[], object] | None = None,
) -> None:
    """Run ``server`` until SIGTERM or SIGINT, then close it and its threads.

    ``restore_mask``: the signal mask to put back in this thread once the stop handlers are
    set (a stop signal held back meanwhile lands then). ``before_close`` runs when the loop
    has ended, before the server is closed.
    """
    previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
    try:
        if restore_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, restore_mask)
        server.run()
    except _Stop:
        log.info("stopping")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if before_close is not None:
            before_close()
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


def spawn_worker(argv: list[str]) -> int:
    """Start ``argv`` (a ``kru serve --worker-of`` command) as a new process; return its PID.

    It inherits the listening socket (inheritable) and nothing else of this process's open
    files (Python opens them close-on-exec), and starts with no signal blocked.
    """
    return os.posix_spawn(
        argv[0], argv, os.environ, setsigmask=(), setsigdef=(*STOP_SIGNALS, signal.SIGCHLD)
    )


def adopt_listening_socket(parent: int, fd: int) -> socket.socket:
    """Return the listening socket ``fd`` that the server ``parent`` handed to this worker.

    Raises:
        KruError: ``parent`` did not start this process, or ``fd`` is not a listening socket.
    """
    if os.getppid() != parent:
        raise KruError(
            N_("This worker was not started by the Kru server %(pid)s; nothing to serve for."),
            code="worker_without_parent",
            pid=parent,
        )
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise _no_socket(fd) from exc
    try:
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    except OSError:
        listening = 0
    if not listening:
        sock.detach()  # not ours to close
        raise _no_socket(fd)
    return sock


def serve_spawned_worker(
    app: Callable,
    sock: socket.socket,
    *,
    parent: int,
    threads: int,
    connection_limit: int = 200,
    body_cap: BodyCap | None = None,
) -> None:
    """Serve ``app`` as a worker of ``parent`` on its listening socket (``adopt_listening_
    socket``) until stopped (SIGTERM, SIGINT) or until ``parent`` is gone."""
    bound_malloc_arenas()
    try:
        _worker(app, sock, threads, connection_limit, body_cap, parent)
    except _Stop:
        pass  # the parent was gone before this worker started
    finally:
        sock.close()


def _no_socket(fd: int) -> KruError:
    return KruError(
        N_("File descriptor %(fd)s is not the server's listening socket."),
        code="worker_without_socket",
        fd=fd,
    )


def _exited(pid: int) -> int | None:
    """Reap ``pid`` if it has exited and return its exit code (-N: killed by signal N)."""
    try:
        found, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return -1  # reaped elsewhere: gone all the same
    return os.waitstatus_to_exitcode(status) if found else None


def _stop_workers(pids: set[int]) -> None:
    """Send SIGTERM to every worker, wait a little, kill what is left, reap them all.

    Only these PIDs are waited for: the app may have children of its own to reap.
    """
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_GRACE_S
    while pids and time.monotonic() < deadline:
        pids -= {pid for pid in pids if _exited(pid) is not None}
        if pids:
            time.sleep(0.02)
    for pid in pids:
        log.warning("worker %s did not stop in time; killing it", pid)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


class _Supervisor(threading.Thread):
    """Watches the forked workers; starts a fresh one in place of any that exits.

    A thread of the first process, which serves meanwhile. It wakes when a worker exits
    (a pidfd per worker; on a kernel without pidfds, every second).
    """

    def __init__(self, pids: set[int], replace: Callable[[], int] | None) -> None:
        super().__init__(name="kru-workers", daemon=True)
        self.replace = replace
        self.started = {pid: time.monotonic() for pid in pids}
        self.pidfds: dict[int, int] = {}
        for pid in pids:
            self._watch(pid)
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = threading.Event()
        self._closed = False
        self._pause = RESTART_PAUSE_S

    def _watch(self, pid: int) -> None:
        try:
            self.pidfds[pid] = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pass  # polled instead

    def _forget(self, pid: int) -> None:
        self.started.pop(pid, None)
        fd = self.pidfds.pop(pid, None)
        if fd is not None:
            os.close(fd)

    def run(self) -> None:
        while not self._stopping.is_set():
            polled = len(self.pidfds) < len(self.started)
            select.select([self._wake_r, *self.pidfds.values()], [], [], 1.0 if polled else None)
            for pid in list(self.started):
                code = _exited(pid)
                if code is not None and not self._stopping.is_set():
                    self._replace(pid, code)

    def _replace(self, pid: int, code: int) -> None:
        quick = time.monotonic() - self.started[pid] < QUICK_DEATH_S
        self._forget(pid)
        if self.replace is None:
            log.error("worker %s exited (status %s); serving with one process fewer", pid, code)
            return
        if not quick:
            self._pause = RESTART_PAUSE_S
            log.warning("worker %s exited (status %s); starting another", pid, code)
        else:  # not in a tight loop: each start costs a Pi a second of CPU
            log.warning(
                "worker %s exited (status %s) soon after it started; starting another in %.0f s",
                pid,
                code,
                self._pause,
            )
            if self._stopping.wait(self._pause):
                return
            self._pause = min(self._pause * 2, RESTART_PAUSE_MAX_S)
        try:
            new = self.replace()
        except OSError:
            log.exception("cannot start a worker in place of %s", pid)
            return
        self.started[new] = time.monotonic()
        self._watch(new)

    def stop(self) -> set[int]:
        """Stop watching (no worker is started after this returns); return the live PIDs."""
        if not self._closed:
            self._closed = True
            self._stopping.set()
            os.write(self._wake_w, b"x")
            if self.is_alive():
                self.join()
            for fd in (*self.pidfds.values(), self._wake_r, self._wake_w):
                os.close(fd)
            self.pidfds.clear()
        return set(self.started)


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
    worker_argv: Callable[[int, int], list[str]] | None = None,
) -> None:
    """Serve ``app`` from this process and ``workers - 1`` forked ones on one socket, until
    SIGTERM or SIGINT.

    ``before_fork`` runs before each fork (close database connections there).
    ``worker_argv(parent_pid, socket_fd)`` is the command that starts a fresh worker in
    place of one that exits (``kru serve --worker-of``); without it the others serve on.

    Raises:
        KruError: the address is in use or cannot be bound.
    """
    bound_malloc_arenas()
    sock = bind_socket(host, port)
    watched = {*STOP_SIGNALS, signal.SIGCHLD}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    pids: set[int] = set()
    lock: PidLock | None = None
    supervisor: _Supervisor | None = None
    # Objects made so far (the app, its imports) move to a generation the collector never
    # scans, so workers do not write to those pages and copy-on-write keeps them shared.
    gc.collect()
    trim_heap()
    gc.freeze()
    try:
        if pid_file is not None:
            lock = write_pid_file(pid_file)
        for _ in range(workers - 1):
            if before_fork:
                before_fork()
            pids.add(_fork_worker(app, sock, threads, connection_limit, body_cap))
        replace = None
        if worker_argv is not None:
            argv = worker_argv(os.getpid(), sock.fileno())
            replace = lambda: spawn_worker(argv)  # noqa: E731
        # Made while the stop signals are held back: its threads and the supervisor's keep
        # them held back, so they land in this thread, which runs waitress's loop.
        server = _waitress(
            with_worker_header(app, secrets.token_hex(4)),
            threads,
            connection_limit,
            body_cap,
            _trusted_proxies(app),
            sockets=[sock],
        )
        supervisor = _Supervisor(pids, replace)
        supervisor.start()
        url = f"http://{host}:{sock.getsockname()[1]}/"
        log.info("serving on %s with %s workers of %s threads", url, workers, threads)
        if on_ready:
            on_ready(url)
        _run_until_stopped(server, restore_mask=old_mask, before_close=supervisor.stop)
    finally:
        if supervisor is not None:
            pids = supervisor.stop()
        _stop_workers(pids)
        sock.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        _remove_pid_file(lock)


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
