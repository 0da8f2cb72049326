"""Group commit: concurrent writers of one process share one transaction and one fsync.

With ``synchronous=FULL`` every commit waits for the SD card; 50 phones sending event
batches at once used to queue 50 commits behind the write lock (docs/performance.md,
item 5). Here the first request to arrive becomes the *leader*: it takes every job
waiting at that moment into one ``BEGIN IMMEDIATE`` transaction, runs each in its own
savepoint (a job that raises is rolled back alone and gets its own error), commits once
and wakes the others with their own results. Jobs that arrive meanwhile wait for the
next leader, which is one of them. There is no background thread: the leader uses its
own request's connection, so the group follows whatever database the handle points at.

Several processes on one SQLite file stay correct: each group is an ordinary
transaction, serialised with the other processes' by SQLite's write lock and
``busy_timeout``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from peewee import Database

log = logging.getLogger(__name__)

T = TypeVar("T")

# Jobs taken into one transaction at most; bounds the leader's extra wait.
MAX_GROUP = 64


class _Job(Generic[T]):
    __slots__ = ("work", "wake", "done", "lead", "result", "error")

    def __init__(self, work: Callable[[], T]) -> None:
        self.work = work
        self.wake = threading.Event()
        self.done = False
        self.lead = False
        self.result: Any = None
        self.error: BaseException | None = None


class GroupCommit:
    """Run write jobs of concurrent threads in shared transactions on ``database``."""

    def __init__(self, database: Database, max_group: int = MAX_GROUP) -> None:
        self.database = database
        self.max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._leading = False
        self.groups = 0  # transactions committed (tests read it)

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` inside a write transaction shared with concurrent jobs; return its value.

        ``work`` must only touch the database through the shared handle; it runs in
        whichever request thread leads the group. Its exception is raised here, and
        nothing it wrote is kept.
        """
        if self.database.in_transaction():
            # Called inside the caller's own transaction: grouping would report results
            # before that transaction commits, so run it there.
            return work()
        job: _Job[T] = _Job(work)
        with self._lock:
            self._queue.append(job)
            if not self._leading:
                self._leading = job.lead = True
        while not job.lead:
            job.wake.wait()
            job.wake.clear()
            if job.done:
                break
        if not job.done:
            self._lead()
        if job.error is not None:
            raise job.error
        return job.result

    def _lead(self) -> None:
        with self._lock:
            jobs = self._queue[: self.max_group]
            del self._queue[: self.max_group]
        try:
            self._write(jobs)
        finally:
            with self._lock:
                for job in jobs:
                    job.done = True
                    job.wake.set()
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.set()
                else:
                    self._leading = False

    def _write(self, jobs: list[_Job]) -> None:
        try:
            with self.database.atomic("IMMEDIATE"):
                for job in jobs:
                    try:
                        with self.database.atomic():  # a savepoint per job
                            job.result = job.work()
                    except Exception as exc:  # handed to the job's own thread
                        job.error = exc
            self.groups += 1
        except BaseException as exc:
            # BEGIN or COMMIT failed (locked past busy_timeout, disk error): nobody's
            # writes are kept, so every job of the group gets the error.
            log.warning("group commit of %s jobs failed: %s", len(jobs), exc)
            for job in jobs:
                job.result = None
                job.error = exc
            if not isinstance(exc, Exception):
                raise
