"""The one directory a site owns: database, content store, secrets, logs, quarantine."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .errors import StorageError


@dataclass(frozen=True)
class DataHome:
    root: Path

    @property
    def database(self) -> Path:
        return self.root / "kru.sqlite3"

    @property
    def content(self) -> Path:
        """Content store: files addressed by sha256 (``content/ab/abcdef...``)."""
        return self.root / "content"

    @property
    def submissions(self) -> Path:
        """Files learners submitted for tasks, by sha256 (edge_server/tasks/storage.py)."""
        return self.root / "submissions"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def tmp(self) -> Path:
        """Scratch space on the same filesystem, so finished files move in by rename."""
        return self.root / "tmp"

    @property
    def pid_file(self) -> Path:
        return self.root / "kru.pid"

    def ensure(self) -> DataHome:
        """Create the directory tree if missing (secrets readable by the owner only).

        Raises:
            StorageError: the directory cannot be created or written.
        """
        try:
            for path in (self.root, self.content, self.logs, self.quarantine, self.tmp):
                path.mkdir(parents=True, exist_ok=True)
            self.secrets.mkdir(mode=0o700, exist_ok=True)
            os.chmod(self.secrets, 0o700)
        except OSError as exc:
            raise StorageError(
                "Cannot create the data directory %(path)s: %(problem)s",
                path=str(self.root),
                problem=exc.strerror or str(exc),
            ) from exc
        return self

    def read_or_create_secret(self, name: str, nbytes: int = 32) -> str:
        """Return the secret ``name``, creating it (mode 0600) on first use."""
        path = self.secrets / name
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        value = secrets.token_hex(nbytes)
        write_private_file(path, value + "\n")
        return path.read_text().strip()


def write_file_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` (file mode ``mode``): temp file, fsync, rename.

    A power cut leaves either the old file or the new one, never half of it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)  # the umask may have narrowed it
    os.replace(tmp, path)


def write_private_file(path: Path, text: str, *, replace: bool = False) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically.

    Without ``replace`` an existing file wins, so two processes starting at once both end
    up with the same file: whoever links first. With ``replace`` the new text wins.
    """
    if replace:
        write_file_atomically(path, text, 0o600)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created it first
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
