"""The content store: pack files addressed by sha256 under ``<data home>/content/ab/<sha>``.

Files arrive through a temporary file in the data home's ``tmp`` (same filesystem), are
fsynced and renamed into place, so a store path either holds the whole file or nothing.
A file is stored once however many packs and versions use it. Paths come only from a
validated sha256 (``path_for``), never from a name in a pack.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from edge_server.base.datahome import DataHome
from edge_server.base.errors import N_

from .errors import PackBusy

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
TMP_PREFIX = "store-"
UPLOAD_PREFIX = "upload-"
STALE_UPLOAD_S = 24 * 3600
LOCK_NAME = "packs.lock"


def is_sha256(value: str) -> bool:
    return bool(_SHA256.match(value or ""))


class ContentStore:
    """Files of installed packs, by sha256."""

    def __init__(self, home: DataHome) -> None:
        self.home = home
        self.root = home.content

    def path_for(self, sha256: str) -> Path:
        """Return where the file ``sha256`` lives.

        Raises:
            ValueError: ``sha256`` is not 64 lowercase hex digits.
        """
        if not is_sha256(sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    @contextlib.contextmanager
    def writer(self, sha256: str) -> Iterator[IO[bytes]]:
        """Yield a temporary file; on a clean exit it is fsynced and renamed to ``sha256``.

        The caller checks the content's digest before leaving the block (raising discards it).
        """
        target = self.path_for(sha256)
        self.home.tmp.mkdir(parents=True, exist_ok=True)
        tmp = self.home.tmp / f"{TMP_PREFIX}{sha256[:16]}-{os.getpid()}-{time.monotonic_ns()}"
        fh = open(tmp, "xb")  # closed below on every path
        try:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        finally:
            if not fh.closed:
                fh.close()
            tmp.unlink(missing_ok=True)

    def sync_dirs(self, shas: list[str]) -> None:
        """fsync the directories that got new files, so the renames survive a power cut."""
        for parent in {self.path_for(s).parent for s in shas}:
            fd = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def remove(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def all_shas(self) -> Iterator[str]:
        """Yield the sha256 of every file in the store."""
        if not self.root.is_dir():
            return
        for shard in self.root.iterdir():
            if shard.is_dir() and len(shard.name) == 2:
                for file in shard.iterdir():
                    if is_sha256(file.name) and file.name.startswith(shard.name):
                        yield file.name

    def collect_garbage(self, referenced: set[str]) -> int:
        """Delete store files nothing references and leftover temporary files; return count.

        Call only while holding ``install_lock``: then no other install is writing.
        """
        removed = 0
        for sha in list(self.all_shas()):
            if sha not in referenced:
                self.remove(sha)
                removed += 1
        if self.home.tmp.is_dir():
            for tmp in self.home.tmp.glob(TMP_PREFIX + "*"):
                tmp.unlink(missing_ok=True)
                removed += 1
            # Uploads a killed server left behind (live uploads are younger than a day).
            for upload in self.home.tmp.glob(UPLOAD_PREFIX + "*"):
                if time.time() - upload.stat().st_mtime > STALE_UPLOAD_S:
                    shutil.rmtree(upload, ignore_errors=True)
        if removed:
            log.info("removed %s unreferenced file(s) from the content store", removed)
        return removed


@contextlib.contextmanager
def install_lock(home: DataHome, wait_s: float = 60.0) -> Iterator[None]:
    """Hold the data home's pack lock (one install or removal at a time, across processes).

    The lock is an flock, so a killed process releases it.

    Raises:
        PackBusy: another install held the lock for longer than ``wait_s``.
    """
    import fcntl

    home.tmp.mkdir(parents=True, exist_ok=True)
    fd = os.open(home.tmp / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PackBusy(
                        N_("Another pack is being installed; try again in a minute")
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
