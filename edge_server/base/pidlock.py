"""PID files that cannot point at the wrong process: the owner holds an flock on the file.

A PID file alone lies after a power cut: the number in it may by then belong to any other
process of the ``kru`` user, which "Sync now" would have signalled (SIGUSR1 ends most
processes) and which made ``kru restore`` refuse to run (issue 12). Here the process that
writes the file keeps it open with an exclusive ``flock`` for as long as it runs; the kernel
drops the lock when the process ends, however it ends. A reader trusts the number only
while the lock is held, and signals through a pidfd opened before checking the lock again,
so a PID reused in between is never signalled either.

The file is written and locked under a temporary name and then renamed into place, so a
reader never sees a locked file without its PID in it. No Flask here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PidLock:
    """A PID file this process owns; ``release`` removes it."""

    path: Path
    fd: int

    @classmethod
    def acquire(cls, path: Path) -> PidLock:
        """Write this process's PID to ``path``, locked, replacing a stale or foreign file.

        The caller decides whether another live owner is acceptable (``running_pid``).

        Raises:
            OSError: the file cannot be written.
        """
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else has it
            os.write(fd, f"{os.getpid()}\n".encode())
            os.fsync(fd)
            os.replace(tmp, path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return cls(path, fd)

    def release(self) -> None:
        """Remove the file if it is still this lock's, then drop the lock."""
        try:
            if os.stat(self.path).st_ino == os.fstat(self.fd).st_ino:
                os.unlink(self.path)
        except OSError:
            pass
        finally:
            os.close(self.fd)


def running_pid(path: Path) -> int | None:
    """Return the PID in ``path`` when the process that wrote it still runs, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: its owner is alive
            try:
                return int(os.pread(fd, 32, 0).decode().strip())
            except ValueError:
                return None
        return None  # nobody holds it: left by a process that is gone
    finally:
        os.close(fd)


def signal_owner(path: Path, sig: int) -> bool:
    """Send ``sig`` to the live owner of ``path``; return whether one was signalled."""
    pid = running_pid(path)
    if pid is None:
        return False
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    try:
        # The owner held the lock before the pidfd was opened and still holds it now, so
        # the process the pidfd names is the owner: its PID cannot have been reused.
        if running_pid(path) != pid:
            return False
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)
    return True
