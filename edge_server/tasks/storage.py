"""Submission files in the data home: ``submissions/<sha[:2]>/<sha256>``, kept by checksum.

Apart from the pack content store on purpose: pack garbage collection removes what no pack
names, and a learner's lesson plan is no pack's. A per-site quota (``submissions.quota_mb``)
bounds the total; retention (``submissions.retention_days``) removes the files of accepted
submissions reviewed that long ago (their metadata, checksums and review stay).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..base.datahome import DataHome
from ..base.db import db
from ..base.errors import N_, StorageError
from .models import Submission, SubmissionFile

log = logging.getLogger(__name__)

_BLOCK = 1024 * 1024


class QuotaFull(StorageError):
    code = "submission_quota_full"


@dataclass(frozen=True)
class Usage:
    used_bytes: int
    quota_bytes: int
    files: int
    retention_days: int


def root(home: DataHome) -> Path:
    return home.submissions


def path_of(home: DataHome, sha256: str) -> Path:
    """Return where the file with ``sha256`` lives (the checksum was made here, never sent)."""
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256")
    return root(home) / sha256[:2] / sha256


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def used_bytes() -> int:
    """Return the bytes the kept files take (each checksum counted once)."""
    row = db.execute_sql(
        "SELECT COALESCE(SUM(size), 0) FROM (SELECT sha256, MAX(size) AS size FROM task_files "
        "WHERE removed_at IS NULL GROUP BY sha256)"
    ).fetchone()
    return int(row[0])


def usage(settings: object) -> Usage:
    """Return what the admin's page shows: used, quota, files and retention."""
    files = SubmissionFile.select().where(SubmissionFile.removed_at.is_null()).count()
    return Usage(
        used_bytes(),
        settings["submissions.quota_mb"] * 1024 * 1024,  # type: ignore[index]
        files,
        settings["submissions.retention_days"],  # type: ignore[index]
    )


def check_quota(settings: object, incoming: int) -> None:
    """Raises: QuotaFull when ``incoming`` more bytes would pass the site's quota."""
    quota_mb = settings["submissions.quota_mb"]  # type: ignore[index]
    if used_bytes() + incoming > quota_mb * 1024 * 1024:
        raise QuotaFull(
            N_("The site's space for submitted work (%(quota)s MB) is full; ask the site's admin"),
            quota=quota_mb,
        )


def keep(home: DataHome, source: Path) -> tuple[str, int]:
    """Move ``source`` into the store under its checksum; return (sha256, size)."""
    sha = digest(source)
    size = source.stat().st_size
    dest = path_of(home, sha)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        source.unlink()
    else:
        with open(source, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(source, dest)
        os.chmod(dest, 0o600)
    return sha, size


def prune(home: DataHome, retention_days: int, now: datetime | None = None) -> int:
    """Remove the files of accepted submissions reviewed over ``retention_days`` ago.

    Returns how many file records were marked removed; 0 days keeps everything.
    """
    if retention_days <= 0:
        return 0
    now = now or datetime.now(UTC)
    cutoff = (now - timedelta(days=retention_days)).isoformat()
    stamp = now.isoformat(timespec="seconds")
    with db.atomic():
        old = list(
            SubmissionFile.select()
            .join(Submission)
            .where(
                (Submission.status == "accepted")
                & (Submission.reviewed_at < cutoff)
                & SubmissionFile.removed_at.is_null()
            )
        )
        for row in old:
            row.removed_at = stamp
            row.save()
        still = {
            r.sha256
            for r in SubmissionFile.select(SubmissionFile.sha256).where(
                SubmissionFile.removed_at.is_null()
            )
        }
    for sha in {r.sha256 for r in old} - still:
        path_of(home, sha).unlink(missing_ok=True)
    if old:
        log.info("retention removed %s submitted files", len(old))
    return len(old)


def panel(app_config: Any) -> dict[str, Any]:
    """Return the admin page's panel: space used by submitted files, quota, retention."""
    used = usage(app_config["KRU"])
    return {
        "used_mb": round(used.used_bytes / 1048576, 1),
        "quota_mb": used.quota_bytes // 1048576,
        "files": used.files,
        "retention_days": used.retention_days,
        "full": used.used_bytes >= used.quota_bytes,
    }
