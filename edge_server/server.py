"""Run a WSGI app on waitress: fast start, clean stop on SIGTERM, a PID file that never blocks.

Sites run on power banks: the server must be up within seconds and stop within seconds.
A PID file left by a power cut is overwritten, since the listening socket is the real lock.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from waitress.server import create_server

from .errors import N_, KruError

log = logging.getLogger(__name__)


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop()


def write_pid_file(path: Path) -> None:
    """Record this process's PID; a stale file from a power cut is simply replaced."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, path)


def bound_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas so freed password-hash buffers are reused across threads.

    Each waitress thread otherwise gets its own arena that keeps a freed 16 MiB Argon2
    buffer: a login storm of 50 left the server 130 MB larger for good (bench/, issue 9).
    """
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8 is M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc: nothing to cap


def serve_wsgi(
    app: Callable,
    *,
    host: str,
    port: int,
    threads: int,
    connection_limit: int = 200,
    pid_file: Path | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT.

    Raises:
        KruError: the address is in use or cannot be bound.
    """
    bound_malloc_arenas()
    try:
        server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            connection_limit=connection_limit,
            channel_timeout=60,
            cleanup_interval=30,
            ident="kru",
            clear_untrusted_proxy_headers=True,
        )
    except OSError as exc:
        raise KruError(
            N_("Cannot listen on %(host)s:%(port)s: %(problem)s"),
            code="bind_failed",
            host=host,
            port=port,
            problem=exc.strerror or str(exc),
        ) from exc
    if pid_file is not None:
        write_pid_file(pid_file)
    url = f"http://{host}:{server.effective_port}/"  # type: ignore[union-attr]
    log.info("serving on %s with %s threads", url, threads)
    if on_ready:
        on_ready(url)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    except _Stop:
        log.info("stopping")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=2)  # type: ignore[union-attr]
        if pid_file is not None:
            try:
                if pid_file.read_text().strip() == str(os.getpid()):
                    pid_file.unlink()
            except OSError:
                pass
