"""Discussion boards, one per course and cohort (issue 16 items 3-4).

Threads and replies are Markdown sanitised with nh3 like lessons (scripts, event handlers,
``javascript:`` links and raw images are dropped; an image is attached as a file instead).
Posts stay on the site. Each post appends one ``posted`` event whose id is derived from the
post (uuid5), object ``urn:kru:discussion:<course>:<cohort uid>``, context naming the
thread and reply ids only; the text travels too only when the pack marks the course's
discussion for review (``discussion.review`` in the manifest). Instructors of the cohort
pin, lock and hide posts; learners report them. docs/progress-rules.md says what counts.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import nh3

from ..accounts.models import Cohort, CohortInstructor, CohortMember, User, new_uid
from ..base.db import db
from ..base.errors import N_, NotFound, PermissionDenied, ValidationError
from ..learning.events import boot_id, now_ts
from ..learning.models import Event
from .discussion_models import Post, Report, Seen

log = logging.getLogger(__name__)

VERB = "posted"
OBJECT_PREFIX = "urn:kru:discussion:"  # not an item key: sync sends no catalog row for it
POST_NAMESPACE = uuid.UUID("0d5c3a9e-7f14-4c61-b2a8-6b7275000163")
MAX_TEXT = 10_000
MAX_TITLE = 200
TAGS = {"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote", "code", "pre", "a"}
ATTRIBUTES = {"a": {"href"}, "*": {"lang"}}


class DiscussionError(ValidationError):
    code = "invalid_post"


def object_of(course: str, cohort: Cohort) -> str:
    return f"{OBJECT_PREFIX}{course}:{cohort.uid}"


def render(source: str) -> str:
    """Return the sanitised HTML of a post's Markdown ``source`` (hostile markup inert)."""
    import markdown  # only when a post is shown; building the app stays light

    raw = markdown.markdown(source, extensions=["sane_lists"])
    return nh3.clean(
        raw,
        tags=TAGS,
        attributes=ATTRIBUTES,
        clean_content_tags={"script", "style"},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


@dataclass(frozen=True)
class BoardRule:
    review: bool = False
    prompt: dict[str, str] = field(default_factory=dict)


def board_rule(course_key: str) -> BoardRule:
    """Return what the installed pack says of ``course_key``'s discussion (empty when none)."""
    row = db.execute_sql(
        "SELECT p.manifest, c.slug FROM courses c JOIN packs p ON p.id = c.pack_id WHERE c.key = ?",
        (course_key,),
    ).fetchone()
    if row is None:
        return BoardRule()
    manifest = json.loads(row[0])
    course: dict[str, Any] = next(
        (c for c in manifest.get("courses", []) if c.get("slug") == row[1]), {}
    )
    part = course.get("discussion") or {}
    return BoardRule(review=bool(part.get("review")), prompt=part.get("prompt") or {})


def _board_exists(cohort_id: int, course: str) -> bool:
    row = db.execute_sql(
        "SELECT 1 FROM course_assignments WHERE cohort_id = ? AND course = ? "
        "UNION SELECT 1 FROM courses WHERE key = ? AND open",
        (cohort_id, course, course),
    ).fetchone()
    return row is not None


def is_moderator(user: User, cohort_id: int) -> bool:
    if user.role == "admin":
        return True
    return (
        user.role == "instructor"
        and CohortInstructor.select()
        .where((CohortInstructor.user == user) & (CohortInstructor.cohort == cohort_id))
        .exists()
    )


def check_access(user: User, cohort_id: int, course: str) -> bool:
    """Return whether ``user`` moderates the board; raise when they may not read it.

    Raises:
        NotFound: the course is not assigned to the cohort (there is no such board).
        PermissionDenied: ``user`` is neither in the cohort nor one of its instructors.
    """
    if not _board_exists(cohort_id, course):
        raise NotFound(N_("There is no discussion for this course and cohort"))
    if is_moderator(user, cohort_id):
        return True
    member = (
        CohortMember.select()
        .where((CohortMember.cohort == cohort_id) & (CohortMember.user == user))
        .exists()
    )
    if not member:
        raise PermissionDenied(N_("This discussion belongs to another cohort."))
    return False


def _event(post: Post, author: User, cohort: Cohort, review: bool) -> None:
    thread_uid = post.uid if post.thread_id is None else post.thread.uid
    context: dict[str, Any] = {
        "cohort": cohort.uid,
        "course": post.course,
        "thread": thread_uid,
        "reply": None if post.thread_id is None else post.uid,
    }
    if review:  # the pack asks for ministry review: the words travel with the event
        context["title"] = post.title or None
        context["text"] = post.source
    ts = now_ts()
    Event.insert(
        id=post.event_id,
        user=author.id,
        verb=VERB,
        object=object_of(post.course, cohort),
        result=None,
        context=json.dumps(context, ensure_ascii=False),
        client_ts=ts,
        server_ts=ts,
        boot_id=boot_id(),
    ).on_conflict_ignore().execute()


def _clean_text(text: str, *, required: bool = True) -> str:
    text = (text or "").strip()
    if required and not text:
        raise DiscussionError(N_("Write something before you post."))
    if len(text) > MAX_TEXT:
        raise DiscussionError(
            N_("A post has at most %(limit)s characters."), limit=MAX_TEXT, code="post_too_long"
        )
    return text


def _create(
    author: User, cohort: Cohort, course: str, text: str, *, thread: Post | None, **extra: Any
) -> Post:
    uid = new_uid()
    with db.atomic():
        post = Post.create(
            uid=uid,
            cohort=cohort,
            course=course,
            thread=thread,
            user=author,
            source=text,
            body=render(text),
            event_id=str(uuid.uuid5(POST_NAMESPACE, uid)),
            **extra,
        )
        _event(post, author, cohort, board_rule(course).review)
        root = post if thread is None else thread
        mark_seen(author, root, post.id)
    return post


def start_thread(
    author: User, cohort: Cohort, course: str, title: str, text: str, image: str | None = None
) -> Post:
    """Start a thread on the board of ``course`` and ``cohort``.

    Raises:
        NotFound, PermissionDenied: see ``check_access``.
        DiscussionError: the title or text is empty or too long.
    """
    check_access(author, cohort.id, course)
    title = (title or "").strip()
    if not title or len(title) > MAX_TITLE:
        raise DiscussionError(N_("Give the thread a title of at most 200 characters."))
    return _create(author, cohort, course, _clean_text(text), thread=None, title=title, image=image)


def reply(author: User, thread: Post, text: str, image: str | None = None) -> Post:
    """Reply to ``thread``.

    Raises:
        NotFound, PermissionDenied: see ``check_access``; also a hidden thread for a learner.
        DiscussionError: the text is empty or too long, or the thread is locked.
    """
    moderator = check_access(author, thread.cohort_id, thread.course)
    if thread.hidden and not moderator:
        raise NotFound(N_("No such thread"))
    if thread.locked and not moderator:
        raise DiscussionError(N_("This thread is locked: no new replies."), code="thread_locked")
    text = _clean_text(text, required=image is None)
    return _create(author, thread.cohort, thread.course, text, thread=thread, image=image)


def get_post(post_id: int) -> Post:
    """Return post ``post_id``.

    Raises:
        NotFound: no such post.
    """
    found = Post.get_or_none(Post.id == post_id)
    if found is None:
        raise NotFound(N_("No such post"))
    return found


def moderate(user: User, post: Post, action: str) -> None:
    """Pin, unpin, lock, unlock, hide or show ``post`` as an instructor of its cohort.

    Raises:
        PermissionDenied: ``user`` does not moderate the post's cohort.
        DiscussionError: the action is unknown, or pins or locks a reply.
    """
    if not is_moderator(user, post.cohort_id):
        raise PermissionDenied(N_("Only the cohort's instructors moderate its discussion."))
    actions: dict[str, dict[str, Any]] = {
        "pin": {"pinned": True},
        "unpin": {"pinned": False},
        "lock": {"locked": True},
        "unlock": {"locked": False},
        "hide": {"hidden": True, "hidden_by": user.id},
        "show": {"hidden": False, "hidden_by": None},
    }
    changes = actions.get(action, {})
    if not changes:
        raise DiscussionError(N_("Unknown moderation action"), code="invalid_action")
    if action in ("pin", "unpin", "lock", "unlock") and post.thread_id is not None:
        raise DiscussionError(N_("Only a thread can be pinned or locked."), code="invalid_action")
    Post.update(changes).where(Post.id == post.id).execute()
    log.info("discussion post %s: %s by user %s", post.uid, action, user.id)


def report(user: User, post: Post, reason: str = "") -> bool:
    """Report ``post`` to the cohort's instructors; return False when already reported.

    Raises:
        NotFound, PermissionDenied: see ``check_access``.
    """
    check_access(user, post.cohort_id, post.course)
    inserted = (
        Report.insert(post=post, user=user, reason=(reason or "").strip()[:500])
        .on_conflict_ignore()
        .execute()
    )
    return bool(inserted)


def mark_seen(user: User, thread: Post, last_post_id: int) -> None:
    Seen.insert(user=user, thread=thread, last_post_id=last_post_id).on_conflict(
        conflict_target=[Seen.user, Seen.thread],
        update={Seen.last_post_id: last_post_id},
        where=(Seen.last_post_id < last_post_id),
    ).execute()


NEW_REPLIES_SQL = (
    "SELECT COUNT(*) FROM discussion_posts p "
    "LEFT JOIN discussion_seen s ON s.user_id = ? AND s.thread_id = p.thread_id "
    "WHERE p.thread_id IN (SELECT COALESCE(thread_id, id) FROM discussion_posts "
    "WHERE user_id = ?) AND p.user_id != ? AND NOT p.hidden "
    "AND p.id > COALESCE(s.last_post_id, 0)"
)
"""SQL of ``new_replies``' count (parameters: ``new_replies_params``)."""


def new_replies_params(user: User) -> list[Any]:
    return [user.id, user.id, user.id]


def new_replies(user: User) -> int:
    """Return how many replies by others are unseen in threads ``user`` took part in (one query)."""
    row = db.execute_sql(NEW_REPLIES_SQL, new_replies_params(user)).fetchone()
    return int(row[0])


@dataclass
class ThreadLine:
    post: Post
    replies: int
    last_at: str
    unseen: int
    reports: int


def board(user: User, cohort: Cohort, course: str) -> list[ThreadLine]:
    """Return the board's threads, pinned first then latest activity; hidden ones only to
    moderators.

    Raises:
        NotFound, PermissionDenied: see ``check_access``.
    """
    moderator = check_access(user, cohort.id, course)
    hidden = "" if moderator else "AND NOT t.hidden "  # a constant clause; values are placeholders
    sql = (
        "SELECT t.id, "  # noqa: S608 - constant clauses, values as placeholders
        " (SELECT COUNT(*) FROM discussion_posts r WHERE r.thread_id = t.id AND NOT r.hidden), "
        " COALESCE((SELECT MAX(r.created_at) FROM discussion_posts r WHERE r.thread_id = t.id),"
        "  t.created_at), "
        " (SELECT COUNT(*) FROM discussion_posts r WHERE r.thread_id = t.id AND NOT r.hidden "
        "  AND r.user_id != ? AND r.id > COALESCE((SELECT last_post_id FROM discussion_seen s "
        "  WHERE s.user_id = ? AND s.thread_id = t.id), 0)), "
        " (SELECT COUNT(*) FROM discussion_reports x JOIN discussion_posts r ON r.id = x.post_id "
        "  WHERE r.id = t.id OR r.thread_id = t.id) "
        "FROM discussion_posts t WHERE t.cohort_id = ? AND t.course = ? AND t.thread_id IS NULL "
        + hidden
    )
    rows = db.execute_sql(sql, (user.id, user.id, cohort.id, course)).fetchall()
    posts = {p.id: p for p in Post.select().where(Post.id.in_([r[0] for r in rows]))}
    lines = [ThreadLine(posts[r[0]], r[1], r[2], r[3], r[4] if moderator else 0) for r in rows]
    lines.sort(key=lambda t: t.last_at, reverse=True)
    lines.sort(key=lambda t: not t.post.pinned)
    return lines


@dataclass
class ThreadView:
    thread: Post
    posts: list[Post]  # the thread's opening post first, then replies, oldest first
    moderator: bool
    reports: dict[int, int]


def thread_view(user: User, thread: Post) -> ThreadView:
    """Return ``thread`` with its replies as ``user`` may see them, and mark them seen.

    Raises:
        NotFound: no such thread, or it is hidden from ``user``.
        PermissionDenied: see ``check_access``.
    """
    if thread.thread_id is not None:
        raise NotFound(N_("No such thread"))
    moderator = check_access(user, thread.cohort_id, thread.course)
    if thread.hidden and not moderator:
        raise NotFound(N_("No such thread"))
    posts = [thread, *Post.select().where(Post.thread == thread).order_by(Post.id)]
    reports: dict[int, int] = {}
    if moderator:
        for post_id, n in db.execute_sql(
            "SELECT x.post_id, COUNT(*) FROM discussion_reports x JOIN discussion_posts p "
            "ON p.id = x.post_id WHERE p.id = ? OR p.thread_id = ? GROUP BY 1",
            (thread.id, thread.id),
        ):
            reports[post_id] = n
    mark_seen(user, thread, posts[-1].id)
    return ThreadView(thread, posts, moderator, reports)


@dataclass
class ReportLine:
    post: Post
    count: int
    reasons: list[str]


def reported_posts(cohort: Cohort) -> list[ReportLine]:
    """Return the cohort's reported posts, most reported first (for its instructors)."""
    out: dict[int, ReportLine] = {}
    query = (
        Report.select(Report, Post)
        .join(Post)
        .where(Post.cohort == cohort)
        .order_by(Report.created_at.desc())
    )
    for r in query:
        line = out.setdefault(r.post.id, ReportLine(r.post, 0, []))
        line.count += 1
        if r.reason:
            line.reasons.append(r.reason)
    return sorted(out.values(), key=lambda line: -line.count)


def my_boards(user: User) -> list[tuple[int, str, str]]:
    """Return (cohort id, cohort name, course key) of each board ``user`` reads."""
    params: tuple[Any, ...] = ()
    if user.role == "admin":
        where = "1"
    elif user.role == "instructor":
        where = "a.cohort_id IN (SELECT cohort_id FROM cohort_instructors WHERE user_id = ?)"
        params = (user.id,)
    else:
        where = "a.cohort_id IN (SELECT cohort_id FROM cohort_members WHERE user_id = ?)"
        params = (user.id,)
    rows = db.execute_sql(
        "SELECT a.cohort_id, c.name, a.course FROM course_assignments a "  # noqa: S608 - constant
        f"JOIN cohorts c ON c.id = a.cohort_id WHERE {where} ORDER BY c.name, a.course",
        params,
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]
