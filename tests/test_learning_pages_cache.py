"""The course catalog kept in memory (docs/performance.md): pages follow pack upgrades and
removals, also when another process makes them, and never mix learners or languages."""

from __future__ import annotations

import subprocess

import pytest

from content_packs.install import remove_pack
from edge_server import accounts
from tests.learning_catalog import ev, post_events
from tests.livesite import KRU
from tests.packs_factory import build_pack, install, lesson

COURSE_URL = "/learn/courses/demo-pack/course"


def _v1(tmp_path):
    return build_pack(
        tmp_path,
        version="1.0.0",
        items=[lesson("intro", title_en="Reading together"), lesson("words", title_en="New words")],
    )


def _v2(tmp_path):
    return build_pack(
        tmp_path,
        version="1.1.0",
        items=[
            lesson("intro", title_en="Reading aloud together"),
            lesson("story", title_en="A short story"),
            lesson("words", title_en="New words"),
        ],
    )


@pytest.fixture
def english_learner(app, login_as, tmp_path):
    install(app, _v1(tmp_path))
    user = login_as("learner")
    accounts.update_user(user, language="en")
    return user


def test_course_page_shows_the_items_of_an_upgraded_pack(app, client, english_learner, tmp_path):
    assert "Reading together" in client.get(COURSE_URL).get_data(as_text=True)
    install(app, _v2(tmp_path))
    html = client.get(COURSE_URL).get_data(as_text=True)
    assert "Reading aloud together" in html and "A short story" in html
    assert "Reading together" not in html


def test_course_page_follows_an_upgrade_made_by_another_process(
    app, client, english_learner, tmp_path, data_dir
):
    assert "A short story" not in client.get(COURSE_URL).get_data(as_text=True)
    subprocess.run(  # our own CLI
        [*KRU, "--data-dir", str(data_dir), "pack", "install", str(_v2(tmp_path))],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert "A short story" in client.get(COURSE_URL).get_data(as_text=True)


def test_lesson_page_links_to_the_new_next_item_after_an_upgrade(
    app, client, english_learner, tmp_path
):
    assert 'href="/learn/items/demo-pack/words"' in client.get(
        "/learn/items/demo-pack/intro"
    ).get_data(as_text=True)
    install(app, _v2(tmp_path))
    html = client.get("/learn/items/demo-pack/intro").get_data(as_text=True)
    assert 'id="next" href="/learn/items/demo-pack/story"' in html


def test_course_page_of_a_removed_pack_is_not_found(app, client, english_learner):
    assert client.get(COURSE_URL).status_code == 200
    remove_pack("demo-pack", app.config["KRU_HOME"])
    assert client.get(COURSE_URL).status_code == 404


def test_course_page_shows_each_learner_only_their_own_progress(
    app, client, english_learner, login_as
):
    post_events(client, [ev("completed", "demo-pack/intro")])
    assert "Completed" in client.get(COURSE_URL).get_data(as_text=True)
    other = login_as("learner")
    accounts.update_user(other, language="en")
    html = client.get(COURSE_URL).get_data(as_text=True)
    assert "Completed" not in html and html.count("Not started") == 2


def test_course_page_in_khmer_after_english_shows_khmer_titles(
    app, client, english_learner, login_as
):
    assert "Reading together" in client.get(COURSE_URL).get_data(as_text=True)
    login_as("learner")  # Khmer, the site's default
    html = client.get(COURSE_URL).get_data(as_text=True)
    assert "មេរៀន intro" in html and "Reading together" not in html


def _keep_section(html: str) -> str:
    start = html.index('<section class="card keep"')
    return html[start : html.index("</section>", start)]


def test_keep_section_is_each_courses_own_and_in_the_learners_language(
    app, client, english_learner, login_as, tmp_path
):
    # Rendered once per language and course (issue 22): never another course's or language's.
    install(app, build_pack(tmp_path, pack_id="other-pack", items=[lesson("one")]))
    first = _keep_section(client.get(COURSE_URL).get_data(as_text=True))
    assert 'data-course="demo-pack/course"' in first
    assert 'data-plan="/api/v1/courses/demo-pack/course/offline"' in first
    assert "Keep this course on my phone" in first
    other = _keep_section(client.get("/learn/courses/other-pack/course").get_data(as_text=True))
    assert 'data-course="other-pack/course"' in other
    assert "/api/v1/courses/other-pack/course/offline" in other
    login_as("learner")  # Khmer, the site's default
    khmer = _keep_section(client.get(COURSE_URL).get_data(as_text=True))
    assert 'data-course="demo-pack/course"' in khmer
    assert "Keep this course on my phone" not in khmer


def test_course_page_lines_carry_each_items_status(app, client, english_learner):
    post_events(client, [ev("completed", "demo-pack/intro")])
    html = client.get(COURSE_URL).get_data(as_text=True)
    intro = html[html.index('href="/learn/items/demo-pack/intro"') :]
    intro = intro[: intro.index("</li>")]
    assert '<span class="badge st-completed">Completed</span>' in intro
    words = html[html.index('href="/learn/items/demo-pack/words"') :]
    words = words[: words.index("</li>")]
    assert '<span class="badge st-not_started">Not started</span>' in words
