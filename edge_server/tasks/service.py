"""Submit work for a task, review it, and read submissions: the functions pages and API share.

Every submission is a new version (the older ones are kept, files and all). Each version
writes a ``submitted`` event and each review a ``reviewed`` event, both in the learner's
log through the same ingest as phones' events (``learning.events.ingest``), so the
completion rules of ``learning.progress`` decide the item's status and the decision events
travel to central. Who may do what:

- learners submit for items of courses they may open, and see their own submissions;
- instructors see and review the submissions of learners in cohorts they teach;
- admins see and review all. Nobody reviews their own work.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import accounts
from ..accounts.models import Cohort, CohortMember, User
from ..base.datahome import DataHome
from ..base.db import db
from ..base.errors import N_, Conflict, NotFound, PermissionDenied, ValidationError
from ..learning import courses
from ..learning import events as learning_events
from . import rubric as rubrics
from . import sniff, storage
from .models import STATUSES, Submission, SubmissionFile

log = logging.getLogger(__name__)

MAX_FILES = 10
MAX_NOTE = 2000
MAX_COMMENT = 5000
MAX_NAME = 200
# Reviews get ids derived from the submission: a review sent twice makes one event.
REVIEW_NAMESPACE = uuid.UUID("4f0c2a47-8d8e-4b6f-a2a1-6b7275000015")
DECISIONS = ("accepted", "returned")


class SubmissionNotFound(NotFound):
    code = "submission_not_found"


class NotATask(NotFound):
    code = "not_a_task"


class SubmissionPending(Conflict):
    code = "submission_pending"


class SubmissionFileTooLarge(ValidationError):
    code = "file_too_large"
    status = 413


@dataclass(frozen=True)
class Incoming:
    """One file a learner sends: a temporary file in the data home and the name they gave."""

    path: Path
    name: str


@dataclass
class QueueEntry:
    """One piece of work waiting for (or done with) review, whatever produced it.

    ``kind`` says which: ``task`` here; other reviewable work (an essay question marked by
    an instructor, from the importers) adds a source to ``QUEUE_SOURCES``.
    """

    kind: str
    id: str
    learner: str
    learner_id: int
    item: str
    item_title: str
    version: int
    status: str
    submitted_at: str
    score: float | None
    files: int
    extra: dict[str, Any] = field(default_factory=dict)


def _now() -> str:
    return learning_events.now_ts()


def task_of(item_key: str) -> rubrics.Task:
    """Return the task of item ``item_key``.

    Raises:
        NotATask: no such item, or it is not a task.
    """
    row = db.execute_sql("SELECT type, data FROM items WHERE key = ?", [item_key]).fetchone()
    if row is None or row[0] != "task":
        raise NotATask(N_("%(item)s is not a task"), item=item_key)
    return rubrics.task_from_data(json.loads(row[1] or "{}"))


def _clean_id(raw: str | None) -> str:
    if not raw:
        return str(uuid.uuid4())
    try:
        parsed = uuid.UUID(str(raw))
    except ValueError:
        parsed = None
    if parsed is None or parsed.version == 5:
        raise ValidationError(N_("id must be a random UUID made by the client"), code="invalid_id")
    return str(parsed)


def _latest(user_id: int, item_key: str) -> Submission | None:
    return (
        Submission.select()
        .where((Submission.user == user_id) & (Submission.item == item_key))
        .order_by(Submission.version.desc())
        .first()
    )


def submit(
    user: User,
    item_key: str,
    files: list[Incoming],
    note: str,
    settings: Any,
    home: DataHome,
    submission_id: str | None = None,
) -> tuple[Submission, bool]:
    """Store a new version of ``user``'s work on a task; return it and whether it is new.

    A resend with the same ``submission_id`` returns the stored one. The files are checked
    by content, moved into the store, and named with their checksums in the ``submitted``
    event.

    Raises:
        ItemNotFound / NotATask: the user may not open the item, or it is no task.
        SubmissionPending: the last version waits for review or was accepted.
        ValidationError: no file, too many, a bad id or note.
        SubmissionFileTooLarge: a file is over the task's or the site's limit.
        sniff.WrongKind: a file's bytes are not a kind the task takes.
        storage.QuotaFull: the site's space for submissions is full.
    """
    sid = _clean_id(submission_id)
    existing = Submission.get_or_none(Submission.id == sid)
    if existing is not None:
        if existing.user_id != user.id or existing.item != item_key:
            raise Conflict(N_("This submission id is taken"), code="id_taken")
        return existing, False
    courses.item_page(user, item_key, "km")  # raises ItemNotFound when not theirs
    task = task_of(item_key)
    latest = _latest(user.id, item_key)
    if latest is not None and latest.status != "returned":
        raise SubmissionPending(
            N_("Your work on this task is waiting for review or was accepted already")
            if latest.status == "submitted"
            else N_("Your work on this task was accepted already"),
        )
    if not files or len(files) > MAX_FILES:
        raise ValidationError(
            N_("Send from 1 to %(most)s files"), code="submission_missing_file", most=MAX_FILES
        )
    if len(note) > MAX_NOTE:
        raise ValidationError(
            N_("The note may have at most %(most)s characters"), code="note_too_long", most=MAX_NOTE
        )
    limit = task.max_bytes(settings["submissions.max_upload_mb"])
    checked: list[tuple[Incoming, sniff.Sniffed, int]] = []
    for incoming in files:
        size = incoming.path.stat().st_size
        name = (incoming.name or "file")[:MAX_NAME]
        if size > limit:
            raise SubmissionFileTooLarge(
                N_("%(file)s is larger than this task's limit of %(limit)s MB"),
                file=name,
                limit=limit // (1024 * 1024),
            )
        if size == 0:
            raise ValidationError(N_("%(file)s is empty"), code="empty_file", file=name)
        checked.append(
            (Incoming(incoming.path, name), sniff.sniff(incoming.path, task.accept, name), size)
        )
    storage.check_quota(settings, sum(size for _i, _s, size in checked))
    kept = []
    for incoming, found, _size in checked:
        sha, size = storage.keep(home, incoming.path)
        kept.append(
            {
                "name": incoming.name,
                "kind": found.kind,
                "mime": found.mime,
                "size": size,
                "sha256": sha,
            }
        )
    version = (latest.version + 1) if latest else 1
    stamp = _now()
    event = learning_events.CleanEvent(
        0,
        sid,
        "submitted",
        item_key,
        None,
        {"submission": sid, "version": version, "files": kept, "note": note},
        stamp,
    )
    with db.atomic("IMMEDIATE"):
        if db.execute_sql("SELECT 1 FROM events WHERE id = ?", [sid]).fetchone():
            raise Conflict(N_("This submission id is taken"), code="id_taken")
        row = Submission.create(
            id=sid,
            user=user.id,
            item=item_key,
            version=version,
            status="submitted",
            note=note,
            submitted_at=stamp,
        )
        for position, f in enumerate(kept):
            SubmissionFile.create(submission=sid, position=position, **f)
        learning_events.ingest(user, [event])
    log.info("submission %s v%s of %s by user %s", sid, version, item_key, user.id)
    return row, True


def get(viewer: User, submission_id: str) -> Submission:
    """Return a submission ``viewer`` may see (owner, the cohort's instructors, admins).

    Raises:
        SubmissionNotFound: no such submission, or not theirs to see (one answer for both).
    """
    row = Submission.get_or_none(Submission.id == submission_id)
    if row is None or not accounts.can_see_learner(viewer, row.user_id):
        raise SubmissionNotFound(N_("There is no submission %(id)s for you"), id=submission_id)
    return row


def review(
    reviewer: User, submission_id: str, chosen: Any, comment: str, decision: str
) -> Submission:
    """Record ``reviewer``'s rubric, comment and decision on a submission.

    Raises:
        SubmissionNotFound: not one the reviewer may see.
        PermissionDenied: a learner, or one's own work.
        ValidationError / rubric.InvalidRubric: a bad decision, comment or rubric.
        Conflict: the submission was reviewed already.
    """
    row = get(reviewer, submission_id)
    if reviewer.role not in ("instructor", "admin") or reviewer.id == row.user_id:
        raise PermissionDenied(N_("Only the cohort's instructors and admins review work"))
    if decision not in DECISIONS:
        raise ValidationError(N_("decision must be accepted or returned"), code="invalid_decision")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ValidationError(
            N_("The comment may have at most %(most)s characters"),
            code="comment_too_long",
            most=MAX_COMMENT,
        )
    task = task_of(row.item)
    result = rubrics.score(task, chosen)
    learner = User.get_by_id(row.user_id)
    stamp = _now()
    event = learning_events.CleanEvent(
        0,
        str(uuid.uuid5(REVIEW_NAMESPACE, row.id)),
        "reviewed",
        row.item,
        {
            "decision": decision,
            "score": result.score,
            "success": result.success,
            "points": result.points,
            "max_points": result.max_points,
            "rubric": result.rubric,
            "extensions": result.extensions(),
        },
        {
            "submission": row.id,
            "version": row.version,
            "reviewer": reviewer.uid,
            "comment": comment,
        },
        stamp,
    )
    with db.atomic("IMMEDIATE"):
        fresh = Submission.get_by_id(row.id)
        if fresh.status != "submitted":
            raise Conflict(N_("This submission was reviewed already"), code="already_reviewed")
        fresh.status = decision
        fresh.reviewer = reviewer
        fresh.reviewed_at = stamp
        fresh.rubric = json.dumps(result.rubric)
        fresh.comment = comment
        fresh.points = result.points
        fresh.score = result.score
        fresh.save()
        learning_events.ingest(learner, [event])
    log.info("submission %s %s by user %s", row.id, decision, reviewer.id)
    return fresh


def history(user_id: int, item_key: str) -> list[Submission]:
    """Return every version of a learner's work on a task, newest first."""
    return list(
        Submission.select()
        .where((Submission.user == user_id) & (Submission.item == item_key))
        .order_by(Submission.version.desc())
    )


def files_of(row: Submission) -> list[SubmissionFile]:
    return list(row.files.order_by(SubmissionFile.position))


def file_of(row: Submission, position: int) -> SubmissionFile:
    """Raises: SubmissionNotFound when the submission has no such (kept) file."""
    found = (
        SubmissionFile.select()
        .where((SubmissionFile.submission == row.id) & (SubmissionFile.position == position))
        .first()
    )
    if found is None or found.removed_at:
        raise SubmissionNotFound(N_("There is no such file"))
    return found


def _task_entries(
    cohort: Cohort, lang: str, item: str | None, status: str | None
) -> list[QueueEntry]:
    query = (
        Submission.select(Submission, User)
        .join(User, on=(Submission.user == User.id))
        .join(CohortMember, on=(CohortMember.user == User.id))
        .where(CohortMember.cohort == cohort.id)
    )
    if item:
        query = query.where(Submission.item == item)
    if status:
        query = query.where(Submission.status == status)
    rows = list(query.order_by(Submission.submitted_at, Submission.id))
    keys = sorted({r.item for r in rows})
    titles = {}
    if keys:
        marks = ",".join("?" * len(keys))
        titles = {
            k: (ten if lang == "en" and ten else tkm)
            for k, tkm, ten in db.execute_sql(
                f"SELECT key, title_km, title_en FROM items WHERE key IN ({marks})",  # noqa: S608
                keys,
            )
        }
    counts = (
        dict(
            db.execute_sql(
                "SELECT submission_id, COUNT(*) FROM task_files GROUP BY submission_id"
            ).fetchall()
        )
        if rows
        else {}
    )
    return [
        QueueEntry(
            "task",
            r.id,
            r.user.display_name or r.user.username,
            r.user_id,
            r.item,
            titles.get(r.item, r.item),
            r.version,
            r.status,
            r.submitted_at,
            r.score,
            counts.get(r.id, 0),
        )
        for r in rows
    ]


def _essay_entries(
    cohort: Cohort, lang: str, item: str | None, status: str | None
) -> list[QueueEntry]:
    """Quiz attempts with essays for an instructor to mark (issue 18, learning.essays)."""
    from ..learning import essays

    learners = {u.id: u for u in accounts.cohort_learners(cohort)}
    out = []
    for a in essays.for_learners(list(learners), lang, item):
        state = "submitted" if a.marks is None else "accepted"
        if status and status != state:
            continue
        who = learners[a.learner_id]
        title = item_title(a.item, lang)
        score = a.score if a.final_score is None else a.final_score
        out.append(
            QueueEntry(
                "essay",
                a.id,
                who.display_name or who.username,
                who.id,
                a.item,
                title,
                a.attempt,
                state,
                a.submitted_at,
                score,
                0,
                {"essays": len(a.essays)},
            )
        )
    return out


# Sources of reviewable work by kind (the hook for essay questions marked by instructors).
QUEUE_SOURCES: dict[str, Callable[[Cohort, str, str | None, str | None], list[QueueEntry]]] = {
    "task": _task_entries,
    "essay": _essay_entries,
}


def queue(
    viewer: User,
    cohort_id: int,
    lang: str,
    *,
    item: str | None = None,
    status: str | None = None,
    kind: str | None = None,
) -> list[QueueEntry]:
    """Return a cohort's work for review, oldest first, filtered by item, status and kind.

    Raises:
        PermissionDenied: ``viewer`` does not teach the cohort (nor is an admin).
        ValidationError: an unknown status.
    """
    if not accounts.can_see_cohort(viewer, cohort_id):
        raise PermissionDenied(N_("You do not teach this cohort"))
    if status and status not in STATUSES:
        raise ValidationError(
            N_("status must be one of %(statuses)s"),
            code="invalid_status",
            statuses=", ".join(STATUSES),
        )
    cohort = accounts.get_cohort(cohort_id)
    entries: list[QueueEntry] = []
    for name, source in QUEUE_SOURCES.items():
        if kind in (None, name):
            entries += source(cohort, lang, item, status)
    return sorted(entries, key=lambda e: (e.submitted_at, e.id))


def cohort_tasks(cohort: Cohort, lang: str) -> list[tuple[str, str]]:
    """Return (key, title) of the task items of the cohort's courses (the queue's filter)."""
    from ..learning import dashboard

    keys = dashboard.cohort_course_keys(cohort)
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    sql = (
        "SELECT i.key, i.title_km, i.title_en FROM items i JOIN courses c ON c.id = i.course_id "  # noqa: S608
        f"WHERE i.type = 'task' AND c.key IN ({marks}) ORDER BY c.key, i.position"
    )
    return [
        (k, (ten if lang == "en" and ten else tkm)) for k, tkm, ten in db.execute_sql(sql, keys)
    ]


def as_json(row: Submission, lang: str = "km") -> dict[str, Any]:
    """Return what the API shows of a submission (the page renders the same data)."""
    return {
        "id": row.id,
        "item": row.item,
        "learner": row.user.uid,
        "version": row.version,
        "status": row.status,
        "note": row.note,
        "submitted_at": row.submitted_at,
        "files": [
            {
                "position": f.position,
                "name": f.name,
                "kind": f.kind,
                "mime": f.mime,
                "size": f.size,
                "sha256": f.sha256,
                "kept": f.removed_at is None,
            }
            for f in files_of(row)
        ],
        "review": None
        if row.status == "submitted"
        else {
            "decision": row.status,
            "rubric": row.rubric_choice,
            "points": row.points,
            "score": row.score,
            "comment": row.comment,
            "reviewed_at": row.reviewed_at,
        },
    }


def item_title(item_key: str, lang: str) -> str:
    row = db.execute_sql(
        "SELECT title_km, title_en FROM items WHERE key = ?", [item_key]
    ).fetchone()
    if row is None:
        return item_key
    return (row[1] if lang == "en" and row[1] else row[0]) or item_key
