"""Pack files are served with one ``charset=utf-8``, not two (issue 12)."""

from __future__ import annotations

import re

import pytest

from content_packs.models import PackFile
from tests.packs_factory import build_pack, install, lesson, media, video


@pytest.fixture
def pack(app, tmp_path):
    app_files = {"index.html": "<h1>សួស្តី</h1>", "style.css": "h1{color:red}", "a.js": "1;"}
    install(
        app,
        build_pack(
            tmp_path,
            items=[
                lesson("page", html=True, body="<p>ទំព័រ</p>"),
                video("clip"),
                media("html5", slug="game", files=app_files),
            ],
        ),
    )


@pytest.mark.parametrize(
    ("ending", "content_type"),
    [
        (".html", "text/html; charset=utf-8"),
        (".vtt", "text/vtt; charset=utf-8"),
        (".mp4", "video/mp4"),
    ],
)
def test_content_files_have_one_charset(client, login_as, pack, ending, content_type):
    login_as("learner")
    row = PackFile.select().where(PackFile.path.endswith(ending)).get()
    with client.get(f"/c/{row.sha256}") as response:  # closes the file it sends
        assert response.status_code == 200
        assert response.headers["Content-Type"] == content_type


@pytest.mark.parametrize(
    ("member", "content_type"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"),
    ],
)
def test_web_app_files_have_one_charset(client, login_as, pack, member, content_type):
    login_as("learner")
    page = client.get("/learn/items/demo-pack/game").get_data(as_text=True)
    src = re.search(r'<iframe class="app" src="([^"]+)"', page).group(1)
    with client.get(src.replace("index.html", member)) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == content_type
