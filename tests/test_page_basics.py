"""Issue 14 items 4, 16, 18, 19: favicon, caption track chosen, CSS rules that phones need."""

from __future__ import annotations

import re
from pathlib import Path

from tests.learning_catalog import make_catalog

EDGE = Path(__file__).resolve().parents[1] / "edge_server"


def test_the_favicon_is_an_icon_not_a_404_page(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/vnd.microsoft.icon"
        assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get("/login").get_data(as_text=True)
    assert re.search(r'<link rel="icon" href="/static/web/favicon.ico', page)


def test_the_caption_track_in_the_page_language_is_on(app, client, login_as):
    make_catalog(open_course=True)
    login_as("learner")
    html = client.get("/learn/items/teach101/clip").get_data(as_text=True)
    assert re.search(r'<track kind="captions"[^>]*srclang="km"[^>]* default>', html)


def test_the_packs_caption_track_is_on_when_none_matches(app, client, login_as):
    from edge_server import accounts

    make_catalog(open_course=True)
    user = login_as("learner")
    accounts.update_user(user, language="en")  # the pack has Khmer captions only
    html = client.get("/learn/items/teach101/clip").get_data(as_text=True)
    assert re.search(r'<track kind="captions"[^>]*srclang="km"[^>]* default>', html)


def test_captions_use_the_bundled_khmer_font():
    css = (EDGE / "site" / "static" / "learn" / "learn.css").read_text()
    assert re.search(r'::cue \{[^}]*font-family: "Noto Sans Khmer"', css)


def test_the_regular_khmer_face_declares_its_real_weight_so_bold_is_bold():
    css = (EDGE / "web" / "static" / "css" / "kru.css").read_text()
    face = re.search(r"@font-face \{[^}]*\}", css).group(0)
    assert re.search(r"font-weight: 400;", face)
