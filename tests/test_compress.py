"""Pages and JSON are gzipped for phones that accept it; files and media are not."""

from __future__ import annotations

import gzip

import pytest

from tests.learning_catalog import LESSON, make_catalog

GZIP = {"Accept-Encoding": "gzip, deflate"}


@pytest.fixture
def lesson_url(app, login_as) -> str:
    make_catalog(open_course=True)
    login_as("learner")
    pack, _, slug = LESSON.partition("/")
    return f"/learn/items/{pack}/{slug}"


def test_page_is_gzipped_when_the_phone_accepts_it(client, lesson_url):
    plain = client.get(lesson_url).data
    response = client.get(lesson_url, headers=GZIP)
    assert response.headers["Content-Encoding"] == "gzip"
    assert (
        gzip.decompress(response.data).split(b'name="csrf-token"')[0]
        == plain.split(b'name="csrf-token"')[0]
    )


def test_gzipped_page_is_smaller_on_the_wire(client, lesson_url):
    plain = client.get(lesson_url)
    packed = client.get(lesson_url, headers=GZIP)
    assert int(packed.headers["Content-Length"]) < int(plain.headers["Content-Length"]) / 2


def test_gzipped_page_says_it_varies_by_accept_encoding(client, lesson_url):
    assert "Accept-Encoding" in client.get(lesson_url, headers=GZIP).headers["Vary"]


def test_page_is_plain_without_accept_encoding(client, lesson_url):
    response = client.get(lesson_url)
    assert "Content-Encoding" not in response.headers
    assert response.data.startswith(b"<!doctype html>")


@pytest.mark.parametrize(
    "path", ["/static/web/css/kru.css", "/static/learn/learn.css", "/static/js/kru-offline.js"]
)
def test_stylesheets_and_scripts_are_gzipped(client, path):
    plain = client.get(path)
    packed = client.get(path, headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert int(packed.headers["Content-Length"]) < len(plain.data) / 2
    plain.close()
    packed.close()


def test_a_gzipped_stylesheet_is_still_answered_304_when_unchanged(client):
    first = client.get("/static/web/css/kru.css", headers=GZIP)
    again = client.get(
        "/static/web/css/kru.css", headers={**GZIP, "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    first.close()
    again.close()


def test_fonts_are_sent_as_they_are(client):
    response = client.get("/static/web/fonts/NotoSansKhmer-Regular.woff2", headers=GZIP)
    assert "Content-Encoding" not in response.headers
    response.close()


def test_small_json_answers_are_not_worth_compressing(client):
    response = client.get("/api/v1/session", headers=GZIP)
    assert "Content-Encoding" not in response.headers
    assert "csrf_token" in response.get_json()
