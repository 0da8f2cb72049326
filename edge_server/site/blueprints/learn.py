"""Learner pages: my courses, a course, an item of each type, quiz results, my progress.

Also serves html5 apps' files under /apps/ with a sandboxing CSP (see ``app_file``).
"""

from __future__ import annotations

import re
import time
import uuid
import weakref
from functools import lru_cache, partial
from typing import Any

import nh3
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user
from markupsafe import Markup, escape

from content_packs import html5
from content_packs.catalog import Catalog
from content_packs.models import Item
from content_packs.urls import content_url

from ...base.errors import KruError
from ...cpd import attendance, notices
from ...learning import courses, events, quiz_forms, scorm
from ...learning import quiz as quizzes
from ...web.auth import role_required
from ...web.i18n import page_language, page_locale
from ...web.layout import kept_page, page_in_full
from . import learn_html

bp = Blueprint("learn", __name__)

# Pack code runs in an opaque origin: no cookies, no same-origin API calls as the learner.
APP_CSP = (
    "sandbox allow-scripts; default-src 'self' data: blob: 'unsafe-inline' 'unsafe-eval'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'self'"
)
# SCORM content asks "resume where you left?" with confirm() (the golf samples do), and
# frames its own pages: a page framed by a sandboxed page has an ancestor with an opaque
# origin, which "frame-ancestors 'self'" refuses (Chromium blocked the golf samples' pages).
# The pages carry no session and no secret, so any frame may hold them.
SCORM_CSP = APP_CSP.replace(
    "sandbox allow-scripts;", "sandbox allow-scripts allow-modals;"
).replace("; frame-ancestors 'self'", "")

# Catalog -> (script root, item key -> rendered catalog part of its line on the course page).
# A catalog is per course version and language, so a new pack version renders anew.
_item_heads: weakref.WeakKeyDictionary[Catalog, tuple[str, dict[str, Markup]]] = (
    weakref.WeakKeyDictionary()
)


@bp.after_request
def _cache_privately(response: Response) -> Response:
    """Let Back show a learner page from the phone's cache when the Wi-Fi is gone (issue 14).

    ``private, no-cache`` rather than the site's ``no-store``: the page may be kept on this
    phone and is checked with the Pi before it is used again; signing out clears the cache.
    """
    if response.mimetype == "text/html" and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "private, no-cache"
    return response


def _lang() -> str:
    return page_language()


def _user():
    return current_user._get_current_object()


def file_url(ref: Any) -> str | None:
    """Return the URL of a content-store file reference ``{"sha256", ...}``."""
    if not isinstance(ref, dict) or not ref.get("sha256"):
        return None
    return content_url(ref)


APP_STREAM_BLOCK = 64 * 1024


def _app_secret() -> bytes:
    return current_app.config["SECRET_KEY"].encode()


def app_token(item_key: str) -> str:
    """Return the signed, expiring path part that lets an html5 app load its own files."""
    return html5.app_token(_app_secret(), item_key, time.time())


_LEARN_URLS_KEPT = 4096


@bp.app_template_global()
def learn_url(endpoint: str, key: str, **values: Any) -> str:
    """Return the URL of a learner page for a course or item key ``<pack>/<slug>``.

    Kept per endpoint, key and mount point when there are no other values: a page links
    the same few items on every request, and building each URL again was a tenth of the
    learner home's time (issue 22).
    """
    pack, _, slug = key.partition("/")
    if values:
        return url_for(endpoint, pack=pack, slug=slug, **values)
    kept: dict[tuple[str, str, str], str] = current_app.extensions.setdefault("kru_learn_urls", {})
    cache_key = (request.script_root, endpoint, key)
    url = kept.get(cache_key)
    if url is None:
        if len(kept) >= _LEARN_URLS_KEPT:
            kept.clear()
        url = kept[cache_key] = url_for(endpoint, pack=pack, slug=slug)
    return url


bp.add_app_template_global(learn_html.progress_bar, "progress_bar")
# The item page's icon, type, status and length, without its macros (learn/item.html); a
# template importing the macros of learn/_macros.html gets the macros.
for _twin in (
    learn_html.icon,
    learn_html.type_label,
    learn_html.status_label,
    learn_html.status,
    learn_html.minutes,
):
    bp.add_app_template_global(_twin)


@bp.app_template_global()
def course_cards(summaries: list[courses.CourseCard]) -> Markup:
    """Return the learner home's course cards (``learn_html.course_cards``)."""
    return learn_html.course_cards(summaries, partial(learn_url, "learn.course"))


@bp.get("/learn/")
@role_required()
def home():
    mine = courses.course_cards(_user(), _lang())
    started = [c for c in mine if c.started and not c.completed]
    target = next(iter(started or [c for c in mine if not c.completed]), None)
    found = notices.for_learner(_user(), attendance.zone(current_app.config["KRU"]["time_zone"]))
    upcoming, replies = found.upcoming, found.new_replies
    return kept_page(
        "learn/home.html",
        {
            "continue": lambda: learn_html.continue_link(target, partial(learn_url, "learn.item")),
            "upcoming": lambda: (
                render_template("cpd/_upcoming.html", upcoming=upcoming) if upcoming else ""
            ),
            "replies": lambda: (
                render_template("cpd/_new_replies.html", replies=replies) if replies else ""
            ),
            "courses": lambda: course_cards(mine) if mine else learn_html.no_course(),
        },
    )


@bp.get("/learn/progress")
@role_required()
def progress():
    return render_template("learn/progress.html", courses=courses.my_courses(_user(), _lang()))


def item_heads(catalog: Catalog | None) -> dict[str, Markup]:
    """Return each item's link, icon, type, length and "optional" as rendered HTML, made
    once per catalog (the course page's hot loop then adds only the learner's status)."""
    if catalog is None:
        return {}
    root = request.script_root
    kept = _item_heads.get(catalog)
    if kept is None or kept[0] != root:
        head = get_template_attribute("learn/_course_items.html", "item_head")
        kept = (root, {item.key: head(item) for item in catalog.items})
        _item_heads[catalog] = kept
    return kept[1]


_ITEM_LINE = ' <span class="badge st-{}">{}</span></span></li>\n'


@lru_cache(maxsize=16)
def _language_badges(language: str | None) -> dict[str, str]:
    """Return each status's badge and line end in the page language ``language`` (called
    within a page of that language; made on its first page): making them for each module
    was a twentieth of the course page."""
    return {
        status: _ITEM_LINE.format(escape(status), escape(learn_html.status_label(status)))
        for status in learn_html.STATUS_LABELS
    }


def item_lines(keys: list[str], statuses: dict[str, str], heads: dict[str, Markup]) -> Markup:
    """Return the course page's lines of the items ``keys``: each item's rendered catalog
    part (``item_heads``) and the learner's status badge (``statuses``, by item key; not
    started where there is none), labelled with the page language's names of the statuses
    (``learn_html.status_label``).

    Joined here as plain text, not in a template loop nor with Markup's operators: the
    loop's calls and escapes per item were a fifth of the course page's time (issue 22).
    """
    locale = page_locale()
    badges = _language_badges(locale.language if locale else None)
    parts: list[str] = []
    for key in keys:
        found = statuses.get(key, "not_started")
        badge = badges.get(found)
        if badge is None:
            status = escape(found)
            badge = _ITEM_LINE.format(status, status)
        parts.append(heads[key])
        parts.append(badge)
    # Rendered catalog parts and badges whose values were escaped above.
    return Markup("".join(parts))  # noqa: S704


_module_keys: weakref.WeakKeyDictionary[Catalog, list[list[str]]] = weakref.WeakKeyDictionary()


def module_keys(catalog: Catalog) -> list[list[str]]:
    """Return the item keys of each module of ``catalog``, in course order (made once per
    catalog)."""
    kept = _module_keys.get(catalog)
    if kept is None:
        kept = [[] for _module in catalog.modules]
        for item in catalog.items:
            kept[item.module].append(item.key)
        _module_keys[catalog] = kept
    return kept


@bp.get("/learn/courses/<pack>/<slug>")
@role_required()
def course(pack: str, slug: str):
    found = courses.course_page(_user(), f"{pack}/{slug}", _lang())
    heads = item_heads(found.catalog)
    slots: dict[str, Any] = {
        f"module_{n}": partial(item_lines, keys, found.statuses, heads)
        for n, keys in enumerate(module_keys(found.catalog))
    }
    slots["progress"] = partial(learn_html.course_progress, found.card)
    # The page is kept per course version (its catalog), title and description.
    card = found.card
    key = (card.key, found.catalog, card.title, found.description)
    return kept_page("learn/course.html", slots, *key, course=found)


def _quiz_context(page: courses.ItemPage) -> dict[str, Any]:
    definition = quizzes.definition(page.data)
    limit = quizzes.attempt_limit(definition)
    used = page.mine.attempts
    attempt_id = str(uuid.uuid4())
    return {
        "questions": quizzes.questions(definition, _lang(), shuffle_seed=attempt_id),
        "pass_mark": quizzes.pass_mark(definition),
        "limit": limit,
        "left": None if limit is None else max(limit - used, 0),
        "attempt_id": attempt_id,
        "past": events.past_attempts(_user(), page.item.key) if used else [],
    }


@bp.get("/learn/items/<pack>/<slug>")
@role_required()
def item(pack: str, slug: str):
    page = courses.item_page(_user(), f"{pack}/{slug}", _lang())
    extra: dict[str, Any] = {}
    kind = page.item.type
    if kind == "lesson":
        extra["body"] = clean_lesson(page.item.body or "", page.title)
    elif kind == "quiz":
        extra.update(_quiz_context(page))
    elif kind == "image":
        data = page.data
        extra["alt"] = data.get(f"alt_{_lang()}") or data.get("alt") or page.title
    elif kind == "html5":
        entry = page.data.get("entry") or "index.html"
        extra["app_url"] = url_for(
            "learn.app_file", pack=pack, slug=slug, sig=app_token(page.item.key), member=entry
        )
        if page.data.get("scorm") in scorm.VERSIONS:
            extra["scorm_start"] = scorm.start(_user(), page.item.key, page.data["scorm"])
    user, mine = _user(), page.mine
    slots = {
        "user": lambda: escape(user.id),
        "position": lambda: escape(mine.position_s or ""),
        "status": lambda: escape(mine.status),
        "status_label": lambda: learn_html.status(mine.status),
        "done_hidden": lambda: " hidden" if mine.done else "",
    }
    if kind != "lesson":  # a quiz's form, a task's work, a video's files: shown in full
        return page_in_full("learn/item.html", slots, page=page, file_url=file_url, **extra)
    # A lesson's page is the same for every learner of its course's version but for the
    # slots: kept per lesson, its text, titles and neighbours.
    before, after = page.neighbours
    key = (
        page.item.key,
        page.title,
        page.course.key,
        page.course.title,
        page.item.duration_s,
        extra["body"],
        before.key if before else None,
        after.key if after else None,
    )
    return kept_page("learn/item.html", slots, *key, page=page, file_url=file_url, **extra)


@lru_cache(maxsize=64)
def clean_lesson(body: str, title: str) -> str:
    """Return a lesson's body cleaned by nh3 and without a heading repeating ``title``.

    Kept for the lessons read last: a class reads the same lesson within minutes, and
    cleaning it again was a tenth of the lesson page's time (issue 22).
    """
    return without_title(nh3.clean(body), title)


_LEADING_H1 = re.compile(r"^\s*<h1[^>]*>(.*?)</h1>\s*", re.DOTALL)


def without_title(body: str, title: str) -> str:
    """Drop the lesson's own first heading when it repeats the page's title (issue 14)."""
    match = _LEADING_H1.match(body)
    if match and re.sub(r"<[^>]+>", "", match.group(1)).strip() == title.strip():
        return body[match.end() :]
    return body


def _answers_from_form(definition: dict[str, Any]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for q in definition.get("questions", []):
        qid = str(q["id"])
        if q.get("type") in ("matching", "ordering"):
            if parts := quiz_forms.parts_from_form(q, request.form):
                answers[qid] = parts
        elif q.get("type") == "multiple":
            values = request.form.getlist(f"q-{qid}")
            if values:
                answers[qid] = values
        else:
            value = request.form.get(f"q-{qid}", "").strip()
            if value:
                answers[qid] = value
    return answers


@bp.post("/learn/items/<pack>/<slug>/attempts")
@role_required()
def submit_quiz(pack: str, slug: str):
    page = courses.item_page(_user(), f"{pack}/{slug}", _lang())
    if page.item.type != "quiz":
        abort(404)
    attempt_id = request.form.get("attempt_id", "")
    try:
        events.submit_attempt(
            _user(), page.item.key, attempt_id, _answers_from_form(quizzes.definition(page.data))
        )
    except KruError as exc:
        if exc.code == "empty_attempt":
            flash(gettext("Answer at least one question, then submit."), "error")
        else:
            flash(exc.localized(gettext), "error")
        return redirect(url_for("learn.item", pack=pack, slug=slug))
    return redirect(url_for("learn.attempt", pack=pack, slug=slug, attempt_id=attempt_id))


@bp.get("/learn/items/<pack>/<slug>/attempts/<attempt_id>")
@role_required()
def attempt(pack: str, slug: str, attempt_id: str):
    page = courses.item_page(_user(), f"{pack}/{slug}", _lang())
    stored = events.graded_attempt(_user(), attempt_id)
    if stored is None or stored["object"] != page.item.key:
        abort(404)
    definition = quizzes.definition(page.data)
    graded = stored["context"].get("graded", {})
    limit = quizzes.attempt_limit(definition)
    return render_template(
        "learn/attempt.html",
        page=page,
        result=stored["result"],
        graded=graded,
        questions=quizzes.questions(definition, _lang(), shuffle_seed=attempt_id),
        feedback=quizzes.feedback(definition, graded, _lang(), stored["result"].get("response")),
        pass_mark=quizzes.pass_mark(definition),
        number=stored["context"].get("attempt"),
        left=None if limit is None else max(limit - page.mine.attempts, 0),
    )


@bp.get("/apps/<pack>/<slug>/<sig>/<path:member>")
def app_file(pack: str, slug: str, sig: str, member: str):
    """Serve a file of an html5 app, sandboxed by CSP so it runs in an opaque origin.

    No sign-in: the sandboxed app's own requests carry no cookies. The token in the path
    (``html5.app_token``: expiry and HMAC) stands for the learner who opened the item page;
    the session is never read, so no cookie is set. The member is streamed from the zip,
    with Range answered 206.
    """
    key = f"{pack}/{slug}"
    try:
        html5.check_app_token(_app_secret(), key, sig, time.time())
    except KruError as exc:  # 404 for a bad token, 403 "open the activity again" if expired
        return _app_refusal(exc)
    row = Item.select(Item.type, Item.data).where(Item.key == key).first()
    if row is None or row.type != "html5":
        abort(404)
    ref = row.payload.get("file") or {}
    try:
        app_file = html5.open_member(current_app.config["KRU_HOME"], ref.get("sha256", ""), member)
    except KruError:
        abort(404)
    response: Any = Response(mimetype=app_file.mime, direct_passthrough=True)
    response.content_length = app_file.size
    response.set_etag(app_file.etag)
    response.headers["Content-Security-Policy"] = APP_CSP
    if row.payload.get("scorm"):
        response.headers["Content-Security-Policy"] = SCORM_CSP
        response.any_frame = True  # no X-Frame-Options either (see SCORM_CSP)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response = response.make_conditional(request, accept_ranges=True, complete_length=app_file.size)
    if response.status_code not in (200, 206):
        return response  # 304 or 412: no body
    start, stop = 0, app_file.size
    if response.status_code == 206:
        start, stop = response.content_range.start, response.content_range.stop
    return _with_member_body(response, app_file, start, stop)


def _app_refusal(exc: KruError) -> Response:
    """Answer a refused app file with a bare message: no page layout, so no session."""
    response = Response(exc.localized(gettext), status=exc.status, mimetype="text/plain")
    response.headers["Content-Security-Policy"] = APP_CSP
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _with_member_body(
    response: Response, app_file: html5.AppFile, start: int, stop: int
) -> Response:
    """Give ``response`` bytes ``start``..``stop`` of the member, streamed.

    A stored member (media, which the pack builder never compresses) goes out through the
    server's file wrapper straight from the zip, as pack files do; others are inflated a
    block at a time.
    """
    wrapper: Any = request.environ.get("wsgi.file_wrapper")
    raw = app_file.open_raw(start) if wrapper is not None else None
    if raw is not None:
        response.response = wrapper(raw, APP_STREAM_BLOCK)
    else:
        response.response = app_file.iter_range(start, stop, APP_STREAM_BLOCK)
    response.content_length = stop - start
    return response
