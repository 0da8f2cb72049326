"""Search of installed packs: Khmer words inside running text, English, index upkeep."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from content_packs.demo import install_sample_pack
from content_packs.install import remove_pack
from content_packs.search import search
from tests.conftest import assert_api_error
from tests.packs_factory import build_pack, install, lesson

KHMER = Path("/work/shared/testdata/khmer")
UDHR_KM = KHMER / "udhr_khm.html.md"


def _article_26() -> str:
    """Return the Khmer UDHR article on education (real running Khmer text, no spaces)."""
    text = UDHR_KM.read_text(encoding="utf-8")
    paragraphs = re.findall(r"<p>(.*?)</p>", text, flags=re.S)
    return next(p for p in paragraphs if "បឋមសិក្សា" in p)


@pytest.fixture
def udhr(app, tmp_path):
    body = "# សិទ្ធិទទួលការអប់រំ\n\n" + _article_26()
    news = (KHMER / "khmernltk_sample_news_input.txt").read_text(encoding="utf-8")[:1500]
    install(
        app,
        build_pack(
            tmp_path,
            items=[
                lesson("education", body=body, title_en="The right to education"),
                lesson("banking", body=news, title_en="Responsible banking news"),
            ],
        ),
    )


@pytest.mark.parametrize("word", ["បឋមសិក្សា", "ឥតបង់ថ្លៃ", "កាតព្វកិច្ច"])
def test_khmer_words_inside_running_text_are_found(udhr, word):
    assert word in _article_26()  # the word sits inside text without spaces
    hits = search(word, "km")
    assert [h["key"] for h in hits] == ["demo-pack/education"]
    assert word in hits[0]["snippet"]


def test_two_khmer_words_must_both_match(udhr):
    assert [h["key"] for h in search("ការអប់រំ ធនាគារ", "km")] == []
    assert [h["key"] for h in search("ការអប់រំ បឋមសិក្សា", "km")] == ["demo-pack/education"]


def test_english_words_are_found_case_insensitively(udhr):
    hits = search("RESPONSIBLE banking", "en")
    assert [h["key"] for h in hits] == ["demo-pack/banking"]
    assert hits[0]["title"] == "Responsible banking news"


def test_title_in_the_users_language_with_course_title(udhr):
    (hit,) = search("បឋមសិក្សា", "km")
    assert hit["title"] == "មេរៀន education"
    assert hit["course_title"] == "វគ្គសិក្សាសាកល្បង"


def test_zero_width_spaces_do_not_hide_words(app, tmp_path):
    body = "គ្រូ\u200bបង្រៀន\u200bអាន\u200bរឿង"
    install(app, build_pack(tmp_path, items=[lesson("zw", body=body)]))
    assert [h["key"] for h in search("បង្រៀនអាន", "km")] == ["demo-pack/zw"]


def test_queries_shorter_than_three_characters_fall_back_to_like(app, tmp_path):
    install(app, build_pack(tmp_path, items=[lesson("short", body="ការអានជាមួយ AI ថ្មី")]))
    assert [h["key"] for h in search("AI", "en")] == ["demo-pack/short"]


def test_search_finds_nothing_for_text_not_in_any_pack(udhr):
    assert search("ព្រះអាទិត្យ", "km") == []


def test_index_follows_upgrade_and_removal(app, tmp_path):
    install(app, build_pack(tmp_path, items=[lesson("a", body="ទន្លេមេគង្គ")]))
    install(app, build_pack(tmp_path, version="2.0.0", items=[lesson("a", body="បឹងទន្លេសាប")]))
    assert search("មេគង្គ", "km") == []
    assert [h["key"] for h in search("ទន្លេសាប", "km")] == ["demo-pack/a"]

    remove_pack("demo-pack", app.config["KRU_HOME"])

    assert search("ទន្លេសាប", "km") == []


def test_search_page_highlights_the_word(udhr, client, login_as):
    login_as("learner")
    html = client.get("/search", query_string={"q": "បឋមសិក្សា"}).get_data(as_text=True)
    assert "<mark>បឋមសិក្សា</mark>" in html
    assert 'href="/learn/items/demo-pack/education"' in html


def test_search_api_returns_hits_with_urls(udhr, client, login_as):
    login_as("learner")
    body = client.get("/api/v1/search", query_string={"q": "ឥតបង់ថ្លៃ"}).get_json()
    assert [h["key"] for h in body["hits"]] == ["demo-pack/education"]
    assert body["hits"][0]["url"] == "/learn/items/demo-pack/education"


def test_search_api_without_query_is_an_error(client, login_as):
    login_as("learner")
    assert_api_error(client.get("/api/v1/search"), 400, "missing_query")


def test_search_api_with_a_too_long_query_is_an_error(client, login_as):
    login_as("learner")
    assert_api_error(client.get("/api/v1/search", query_string={"q": "ក" * 201}), 400)


def test_learners_do_not_find_courses_they_cannot_open(app, tmp_path, client, login_as):
    install(
        app, build_pack(tmp_path, items=[lesson("hidden", body="មេរៀនសម្ងាត់")], open_course=False)
    )
    login_as("learner")
    assert client.get("/api/v1/search", query_string={"q": "សម្ងាត់"}).get_json()["hits"] == []


def test_instructors_find_every_installed_course(app, tmp_path, client, login_as):
    install(
        app, build_pack(tmp_path, items=[lesson("hidden", body="មេរៀនសម្ងាត់")], open_course=False)
    )
    login_as("instructor")
    hits = client.get("/api/v1/search", query_string={"q": "សម្ងាត់"}).get_json()["hits"]
    assert [h["key"] for h in hits] == ["demo-pack/hidden"]


def test_sample_pack_installs_and_its_khmer_lessons_are_searchable(app):
    install_sample_pack(app.config["KRU"])

    keys = [h["key"] for h in search("ជ្រុងអាន", "km")]
    assert "classroom-reading/seating-and-reading-corner" in keys
    from content_packs.models import Course, Item, Module

    assert Course.get().open
    assert Module.select().count() == 3
    assert Item.select().where(Item.type == "lesson").count() == 8
    assert Item.select().where(Item.type == "quiz").count() == 2
    assert {i.type for i in Item.select()} >= {"video", "image", "pdf"}


def test_sample_pack_install_is_idempotent(app):
    install_sample_pack(app.config["KRU"])
    install_sample_pack(app.config["KRU"])
    from content_packs.models import Pack

    assert Pack.select().count() == 1
