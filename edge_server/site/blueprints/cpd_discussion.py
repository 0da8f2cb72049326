"""Pages of the discussion boards: threads, replies with a picture, moderation, reports, and
the "new replies" note on the learner's home page. Thin shells over ``discussion``."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale, gettext
from flask_login import current_user
from werkzeug.datastructures import FileStorage

from ... import accounts
from ...base.errors import ValidationError
from ...cpd import discussion, discussion_images
from ...cpd.discussion_models import Post
from ...learning import assignments
from ...web.auth import role_required

bp = Blueprint("discuss", __name__)


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"


def _user():
    return current_user._get_current_object()


def _image(upload: FileStorage | None) -> str | None:
    """Keep the form's picture, if any; return its stored name."""
    if upload is None or not upload.filename:
        return None
    return discussion_images.store(current_app.config["KRU_HOME"].root, upload.read())


def _course_title(course: str) -> str:
    return dict(assignments.all_courses(_lang())).get(course, course)


@bp.get("/discuss/")
@role_required()
def boards():
    return render_template(
        "cpd/discuss_boards.html",
        boards=[
            (cid, name, key, _course_title(key)) for cid, name, key in discussion.my_boards(_user())
        ],
        new=discussion.new_replies(_user()),
    )


@bp.route("/discuss/<int:cohort_id>/<pack>/<slug>", methods=["GET", "POST"])
@role_required()
def board(cohort_id: int, pack: str, slug: str):
    course = f"{pack}/{slug}"
    group = accounts.get_cohort(cohort_id)
    if request.method == "POST":
        form = request.form
        try:
            post = discussion.start_thread(
                _user(),
                group,
                course,
                form.get("title", ""),
                form.get("text", ""),
                _image(request.files.get("image")),
            )
        except ValidationError as exc:
            flash(exc.localized(gettext), "error")
            return _board_page(group, course, form), 400
        return redirect(url_for("discuss.thread", thread_id=post.id)), 303
    return _board_page(group, course)


def _board_page(group, course: str, form=None):
    lines = discussion.board(_user(), group, course)
    moderator = discussion.is_moderator(_user(), group.id)
    rule = discussion.board_rule(course)
    return render_template(
        "cpd/discuss_board.html",
        cohort=group,
        course=course,
        course_title=_course_title(course),
        threads=lines,
        moderator=moderator,
        prompt=rule.prompt.get(_lang()) or rule.prompt.get("km", ""),
        review=rule.review,
        form=form or {},
    )


def _thread(thread_id: int) -> Post:
    found = Post.get_or_none(Post.id == thread_id)
    if found is None:
        abort(404)
    return found


@bp.route("/discuss/threads/<int:thread_id>", methods=["GET", "POST"])
@role_required()
def thread(thread_id: int):
    found = _thread(thread_id)
    status = 200
    text = ""
    if request.method == "POST":
        text = request.form.get("text", "")
        try:
            post = discussion.reply(_user(), found, text, _image(request.files.get("image")))
        except ValidationError as exc:
            flash(exc.localized(gettext), "error")
            status = 400
        else:
            return redirect(
                url_for("discuss.thread", thread_id=found.id, _anchor=f"p{post.id}")
            ), 303
    view = discussion.thread_view(_user(), found)
    return render_template(
        "cpd/discuss_thread.html",
        view=view,
        course_title=_course_title(found.course),
        text=text,
        me=_user(),
    ), status


@bp.post("/discuss/posts/<int:post_id>/moderate")
@role_required("instructor", "admin")
def moderate(post_id: int):
    post = discussion.get_post(post_id)
    discussion.moderate(_user(), post, request.form.get("action", ""))
    root = post.thread_id or post.id
    return redirect(url_for("discuss.thread", thread_id=root, _anchor=f"p{post.id}")), 303


@bp.post("/discuss/posts/<int:post_id>/report")
@role_required()
def report(post_id: int):
    post = discussion.get_post(post_id)
    if post.hidden and not discussion.is_moderator(_user(), post.cohort_id):
        abort(404)
    if discussion.report(_user(), post, request.form.get("reason", "")):
        flash(gettext("Thank you. The instructors will look at this post."), "success")
    else:
        flash(gettext("You have already reported this post."), "success")
    root = post.thread_id or post.id
    return redirect(url_for("discuss.thread", thread_id=root, _anchor=f"p{post.id}")), 303


@bp.get("/teach/cohorts/<int:cohort_id>/reports")
@role_required("instructor", "admin")
def reports(cohort_id: int):
    if not accounts.can_see_cohort(_user(), cohort_id):
        abort(403)
    group = accounts.get_cohort(cohort_id)
    return render_template(
        "cpd/discuss_reports.html", cohort=group, reported=discussion.reported_posts(group)
    )


@bp.get("/discuss/posts/<int:post_id>/image")
@role_required()
def image(post_id: int):
    post = discussion.get_post(post_id)
    moderator = discussion.check_access(_user(), post.cohort_id, post.course)
    if not post.image or (post.hidden and not moderator):
        abort(404)
    found = discussion_images.path_of(current_app.config["KRU_HOME"].root, post.image)
    if found is None:
        abort(404)
    response = send_file(found[0], mimetype=found[1], max_age=86400)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
