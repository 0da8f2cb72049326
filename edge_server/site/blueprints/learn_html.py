"""Parts of the learner pages built in Python rather than by Jinja (issue 22).

A template loop calls a function, a translation and an escape per value through Jinja's
``Context.call``; the learner home's course cards and progress bars cost a quarter of the
page that way. These functions return exactly what the templates they replace rendered:
every value from the database escaped as autoescape does, translations trusted as
templates trust them and formatted as Jinja's newstyle ``_()`` formats them
(``Markup(translation) % values``, which escapes each value).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app
from markupsafe import Markup, escape

from ...base.errors import N_
from ...base.localtime import date_words, is_past
from ...learning.progress import percent as progress_percent
from ...web.i18n import page_gettext, page_locale
from ...web.web_security import pct_class

_KHMER_DIGITS = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")

_PROGRESS_BAR = (
    '<div class="progress" role="progressbar" aria-label="{}" aria-valuenow="{}" '
    'aria-valuemin="0" aria-valuemax="100"><span class="w-{}"></span></div>'
)


def _message(message: str, **values: Any) -> str:
    """Return ``message`` translated and formatted as a template's ``_(message, **values)``."""
    # The translation is trusted as templates trust it; Markup's % escapes each value.
    return str(Markup(page_gettext(message)) % values)  # noqa: S704


def progress_bar(percent: int, label: str) -> Markup:
    """Return a course's progress bar, named for screen readers.

    Built here, not by a template macro: a learner home's three bars were a tenth of its
    time (issue 22).
    """
    name = _message(N_("Progress of %(course)s"), course=label)
    # The name was escaped above; the percent and class are numbers.
    return Markup(_PROGRESS_BAR.format(name, escape(percent), pct_class(percent)))  # noqa: S704


def _digits(text: str, khmer: bool) -> str:
    return text.translate(_KHMER_DIGITS) if khmer else text


class _ProgressWords:
    """A page's language and its progress messages, translated once per call of
    ``course_cards`` or ``course_progress``."""

    def __init__(self) -> None:
        locale = page_locale()
        self.language = locale.language if locale else "km"
        self.khmer = locale is not None and self.language == "km"
        self.zone = current_app.config["KRU"].get("time_zone", "UTC")
        self.done_text = page_gettext(N_("%(done)s of %(total)s done"))
        self.bar_name = page_gettext(N_("Progress of %(course)s"))
        self.due_text = self.overdue = ""

    def digits(self, text: str) -> str:
        return _digits(text, self.khmer)


def _bar_and_line(course: Any, words: _ProgressWords) -> tuple[str, str, bool]:
    """Return ``course``'s progress bar, its "items done" line and whether it is completed."""
    done, total = course.tally()
    percent = progress_percent(done, total)  # course.percent and .completed, counted once
    bar = _PROGRESS_BAR.format(
        words.bar_name % {"course": escape(course.title)}, escape(percent), pct_class(percent)
    )
    line = words.done_text % {
        "done": escape(words.digits(str(done))),
        "total": escape(words.digits(str(total))),
    }
    return bar, line, total > 0 and done == total


def _due(course: Any, words: _ProgressWords, completed: bool) -> str:
    """Return ``course``'s due date and "overdue" (when past and not completed), or nothing."""
    due = course.due_date
    if not due:
        return ""
    if not words.due_text:
        words.due_text = page_gettext(N_("Due %(date)s"))
    when = escape(words.digits(date_words(due, words.language)))
    text = f' · <span class="due">{words.due_text % {"date": when}}</span>'
    if is_past(due, words.zone) and not completed:
        if not words.overdue:
            words.overdue = _message(N_("Overdue"))
        text += f' <span class="badge bad">{words.overdue}</span>'
    return text


def course_cards(summaries: Iterable[Any], course_url: Any) -> Markup:
    """Return the learner home's card of each course (``courses.CourseCard``): its link,
    progress bar, items done, "completed", due date and "overdue", as ``learn/home.html``
    rendered them; ``course_url(key)`` gives a course's link.

    Each message is translated once per call and formatted with ``str %`` on escaped values,
    which is what ``Markup(translation) % values`` gives for ``%(name)s`` placeholders.
    """
    words = _ProgressWords()
    completed = ""
    parts: list[str] = []
    for course in summaries:
        bar, line, is_completed = _bar_and_line(course, words)
        url = escape(course_url(course.key))
        parts.append(
            f'\n<section class="card course-card">\n  <h2><a href="{url}">'
            f'{escape(course.title)}</a></h2>\n  {bar}\n  <p class="muted">{line}'
        )
        if is_completed:
            if not completed:
                completed = _message(N_("Completed"))
            parts.append(f' · <span class="badge st-completed">{completed}</span>')
        parts.append(_due(course, words, is_completed))
        parts.append("</p>\n</section>\n")
    # Every value from the database was escaped above; translations are trusted.
    return Markup("".join(parts))  # noqa: S704


def course_progress(course: Any) -> Markup:
    """Return the course page's progress bar and line (items done, due date, "overdue"),
    as ``learn/course.html`` rendered them."""
    words = _ProgressWords()
    bar, line, is_completed = _bar_and_line(course, words)
    due = _due(course, words, is_completed)
    # Values from the database were escaped above; translations are trusted.
    return Markup(f'{bar}\n<p class="muted">{line}{due}</p>')  # noqa: S704


def continue_link(course: Any, item_url: Any) -> Markup:
    """Return the learner home's "Continue" (or "Start") button to ``course``'s next item,
    or nothing; ``item_url(key)`` gives an item's link."""
    if course is None or course.next_item is None:
        return Markup("")
    item = course.next_item
    label = _message(N_("Continue") if course.started else N_("Start"))
    # The label is a trusted translation; the link and title are escaped here.
    return Markup(  # noqa: S704
        f'<a class="button primary big" id="continue" href="{escape(item_url(item.key))}">'
        f"{label}: {escape(item.title)}</a>\n"
    )


def no_course() -> Markup:
    """Return the learner home's line for a learner with no course yet."""
    text = _message(N_("No course is assigned to you yet. Ask your instructor."))
    return Markup(f'<p class="card">{text}</p>\n')  # noqa: S704  # a trusted translation


# Python twins of learn/_macros.html's icon, type_label, status_label, status and minutes,
# for the item page, where the five macro calls were a thirteenth of the page (issue 22).
# Byte for byte what the macros give (tests/test_learn_html.py).
STATUS_LABELS = {
    "not_started": N_("Not started"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
    "passed": N_("Passed"),
    "failed": N_("Failed"),
}


def icon(kind: str) -> Markup:
    """Return an item type's icon (``_macros.html`` ``icon``)."""
    href = escape(current_app.jinja_env.globals["url_for"]("static", filename="learn/icons.svg"))  # type: ignore[operator]
    return Markup(  # noqa: S704  # both values escaped
        f'<svg class="ico" aria-hidden="true" width="20" height="20"><use href="{href}#'
        f'{escape(kind)}"/></svg>'
    )


def type_label(kind: str) -> Markup:
    """Return an item type's translated name (``_macros.html`` ``type_label``)."""
    labels = current_app.jinja_env.globals["item_type_labels"]
    if kind in labels:  # type: ignore[operator]
        return Markup(_message(labels[kind]))  # type: ignore[index]  # noqa: S704
    return escape(kind)


def status_label(status: str) -> Markup:
    """Return a status's translated name (``_macros.html`` ``status_label``)."""
    message = STATUS_LABELS.get(status)
    return escape(status) if message is None else Markup(_message(message))  # noqa: S704


def status(status: str) -> Markup:
    """Return a status badge (``_macros.html`` ``status``)."""
    return Markup(  # noqa: S704  # both parts escaped
        f'<span class="badge st-{escape(status)}">{status_label(status)}</span>'
    )


def minutes(seconds: int | None) -> Markup:
    """Return a length in whole minutes, rounded up (``_macros.html`` ``minutes``)."""
    if not seconds:
        return Markup("")
    locale = page_locale()
    count = _digits(str((seconds + 59) // 60), locale is not None and locale.language == "km")
    return Markup(f"{escape(count)} {_message(N_('min'))}")  # noqa: S704
