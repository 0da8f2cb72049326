"""Rebuild the submissions tables from the event log (``kru submissions rebuild``).

The log is the record: each ``submitted`` event holds the submission's id, version, files
(name, kind, MIME type, size, sha256) and note; each ``reviewed`` event the decision, the
rubric, points, score, reviewer and comment. ``task_submissions`` and ``task_files`` are
what the pages read, and can be made again from it (after restoring an old database, or
if they were damaged). A file no longer in the store is marked removed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..base.datahome import DataHome
from ..base.db import db
from ..learning.models import Event
from . import storage
from .models import Submission, SubmissionFile

log = logging.getLogger(__name__)


def rebuild(home: DataHome) -> dict[str, int]:
    """Replace the submissions tables with what the log says; return counts."""
    users: dict[str, int] = {
        str(uid): int(pk) for pk, uid in db.execute_sql("SELECT id, uid FROM users")
    }
    rows: dict[str, dict[str, Any]] = {}
    files: list[dict[str, Any]] = []
    with db.atomic("IMMEDIATE"):
        query = (
            Event.select(
                Event.id,
                Event.user,
                Event.verb,
                Event.object,
                Event.result,
                Event.context,
                Event.client_ts,
                Event.server_ts,
            )
            .where(Event.verb.in_(("submitted", "reviewed")))
            .order_by(Event.seq)
            .tuples()
        )
        for (
            event_id,
            user_id,
            verb,
            item,
            result,
            context,
            client_ts,
            server_ts,
        ) in query.iterator():
            stamp = client_ts or server_ts  # the Pi made these events: its own time
            ctx = json.loads(context or "{}")
            if verb == "submitted":
                rows[event_id] = {
                    "id": event_id,
                    "user": user_id,
                    "item": item,
                    "version": int(ctx.get("version") or 1),
                    "status": "submitted",
                    "note": ctx.get("note") or "",
                    "submitted_at": stamp,
                }
                for position, f in enumerate(ctx.get("files") or []):
                    missing = not storage.path_of(home, f["sha256"]).exists()
                    files.append(
                        {
                            "submission": event_id,
                            "position": position,
                            "name": f["name"],
                            "kind": f["kind"],
                            "mime": f["mime"],
                            "size": f["size"],
                            "sha256": f["sha256"],
                            "removed_at": server_ts if missing else None,
                        }
                    )
            else:
                row = rows.get(ctx.get("submission", ""))
                if row is None:
                    continue
                res = json.loads(result or "{}")
                row.update(
                    status=res.get("decision", "accepted"),
                    reviewer=users.get(ctx.get("reviewer", "")),
                    reviewed_at=stamp,
                    rubric=json.dumps(res.get("rubric") or {}),
                    comment=ctx.get("comment") or "",
                    points=res.get("points"),
                    score=res.get("score"),
                )
        SubmissionFile.delete().execute()
        Submission.delete().execute()
        for row in rows.values():
            Submission.insert(**row).execute()
        for start in range(0, len(files), 200):
            SubmissionFile.insert_many(files[start : start + 200]).execute()
    log.info("rebuilt %s submissions and %s files from the log", len(rows), len(files))
    return {"submissions": len(rows), "files": len(files)}
