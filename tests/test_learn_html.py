"""The learner home's course cards and progress bars, built in Python (issue 22), are byte
for byte what the template loop and ``status`` macro they replaced rendered."""

from __future__ import annotations

import pytest
from flask import render_template_string
from markupsafe import Markup

from edge_server.learning.courses import CourseSummary, ItemStatus
from edge_server.site.blueprints import learn_html

# learn/home.html's loop before issue 22's second round, the reference.
OLD_CARDS = """{% from "learn/_macros.html" import status %}{% for course in courses %}
<section class="card course-card">
  <h2><a href="{{ learn_url('learn.course', course.key) }}">{{ course.title }}</a></h2>
  {{ old_bar(course.percent, course.title) }}
  <p class="muted">{{ _("%(done)s of %(total)s done", done=course.done_count|kn, total=course.required|length|kn) }}{% if course.completed %} · {{ status("completed") }}{% endif %}{% if course.due_date %} · <span class="due">{{ _("Due %(date)s", date=course.due_date|datewords) }}</span>{% if course.due_date is past and not course.completed %} <span class="badge bad">{{ _("Overdue") }}</span>{% endif %}{% endif %}</p>
</section>
{% endfor %}"""  # noqa: E501

OLD_BAR = """<div class="progress" role="progressbar" aria-label="{{ _("Progress of %(course)s", course=label) }}" aria-valuenow="{{ percent }}" aria-valuemin="0" aria-valuemax="100"><span class="w-{{ percent|pct_class }}"></span></div>"""  # noqa: E501


def _items(done: int, total: int, optional: int = 0) -> list[ItemStatus]:
    items = [
        ItemStatus(f"p/i{n}", "lesson", f"Item {n}", True, 60, "completed" if n < done else "")
        for n in range(total)
    ]
    items += [ItemStatus(f"p/o{n}", "lesson", "Optional", False, None) for n in range(optional)]
    for item in items:
        item.status = item.status or "not_started"
    return items


def _courses() -> list[CourseSummary]:
    return [
        CourseSummary("p/started", 'Reading <b>&</b> "writing"', "", True, None, _items(1, 3)),
        CourseSummary("p/done", "ការអាន", "", True, "2020-01-05", _items(4, 4, optional=2)),
        CourseSummary("p/overdue", "Maths 'one'", "", False, "2021-12-31", _items(0, 12)),
        CourseSummary("p/later", "Science", "", False, "2999-06-01", _items(5, 12)),
        CourseSummary("p/empty", "No items", "", True, "not a date", []),
        CourseSummary("p/a&b", "Q&A", "", True, None, _items(11, 12)),
    ]


def _as_learner(app, client, login_as, language: str):
    from edge_server.accounts.models import User

    user = login_as("learner")
    User.update(language=language).where(User.id == user.id).execute()
    return user


@pytest.mark.parametrize("language", ["km", "en"])
def test_course_cards_are_what_the_template_rendered(app, client, login_as, language):
    _as_learner(app, client, login_as, language)
    client.get("/learn/")  # a signed-in request, so the session cookie is current
    with app.test_request_context("/learn/", headers={"Cookie": _cookie(client)}):
        app.preprocess_request()
        summaries = _courses()
        old = render_template_string(OLD_CARDS, courses=summaries, old_bar=_old_bar)
        new = str(learn_html.course_cards(summaries, _course_url))
    assert new == old
    assert "Reading &lt;b&gt;&amp;&lt;/b&gt; &#34;writing&#34;" in new
    assert new.count('class="badge bad"') == 1  # only the unfinished course past its date


@pytest.mark.parametrize("language", ["km", "en"])
def test_progress_bar_is_what_the_template_rendered(app, client, login_as, language):
    _as_learner(app, client, login_as, language)
    client.get("/learn/")
    with app.test_request_context("/learn/", headers={"Cookie": _cookie(client)}):
        app.preprocess_request()
        for percent, label in [(0, "A"), (33, "<i>x</i> & 'y'"), (100, "ការអាន"), (150, "z")]:
            assert str(learn_html.progress_bar(percent, label)) == str(_old_bar(percent, label))


def _old_bar(percent: int, label: str) -> Markup:
    return Markup(render_template_string(OLD_BAR, percent=percent, label=label))


def _course_url(key: str) -> str:
    from edge_server.site.blueprints.learn import learn_url

    return learn_url("learn.course", key)


def _cookie(client) -> str:
    return f"session={client.get_cookie('session').value}"


TYPES = ["lesson", "video", "quiz", "pdf", "html5", "no-such-type", "<b>&"]
STATUSES = ["not_started", "in_progress", "completed", "passed", "failed", "other", "<i>'"]


@pytest.mark.parametrize("language", ["km", "en"])
def test_item_page_twins_are_what_the_macros_render(app, client, login_as, language):
    from flask import get_template_attribute

    _as_learner(app, client, login_as, language)
    client.get("/learn/")
    with app.test_request_context("/learn/", headers={"Cookie": _cookie(client)}):
        app.preprocess_request()

        def macro(name):
            return get_template_attribute("learn/_macros.html", name)

        for kind in TYPES:
            assert str(learn_html.icon(kind)) == str(macro("icon")(kind))
            assert str(learn_html.type_label(kind)) == str(macro("type_label")(kind))
        for value in STATUSES:
            assert str(learn_html.status_label(value)) == str(macro("status_label")(value))
            assert str(learn_html.status(value)) == str(macro("status")(value))
        for seconds in [None, 0, 1, 59, 60, 61, 600, 3599, 86400]:
            assert str(learn_html.minutes(seconds)) == str(macro("minutes")(seconds))
        assert isinstance(learn_html.status("x"), Markup)


@pytest.mark.parametrize("language", ["km", "en"])
def test_item_lines_badges_are_the_former_template_loops_labels(app, client, login_as, language):
    from edge_server.site.blueprints.learn import item_lines

    # The loop the course page had before item_lines, with the labels it wrote itself.
    former = (
        '{% set labels = {"not_started": _("Not started"), "in_progress": _("In progress"), '
        '"completed": _("Completed"), "passed": _("Passed"), "failed": _("Failed")} %}'
        "{% for item in items %}{{ heads[item.key] }} "
        '<span class="badge st-{{ item.status }}">'
        "{{ labels.get(item.status, item.status) }}</span></span></li>\n"
        "{% endfor %}"
    )
    _as_learner(app, client, login_as, language)
    client.get("/learn/")
    items = [ItemStatus(f"p/{s}", "lesson", s, True, None, s) for s in STATUSES]
    heads = {item.key: Markup(f"<li>{item.key}") for item in items}
    with app.test_request_context("/learn/", headers={"Cookie": _cookie(client)}):
        app.preprocess_request()
        expected = render_template_string(former, items=items, heads=heads)
        keys = [item.key for item in items]
        statuses = {item.key: item.status for item in items if item.status != "not_started"}
        assert str(item_lines(keys, statuses, heads)) == expected  # not started: no status
        assert str(item_lines(keys, statuses, heads)) == expected  # kept badges
