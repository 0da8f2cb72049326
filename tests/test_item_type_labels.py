"""Every kind of item a pack may hold has a word in Khmer and in English wherever a page names
it: the course page's item lines, the item page's heading (a Khmer course once said "Task")."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from content_packs.authoring.drafts import EDITABLE_TYPES
from content_packs.item_types import ITEM_TYPES, TYPE_LABELS
from content_packs.manifest import SCHEMA_PATH
from edge_server import accounts
from edge_server.web.i18n import load_catalog
from tests.authoring_helpers import make_course
from tests.packs_factory import build_pack, install, lesson, media, quiz, video

COURSE_URL = "/learn/courses/demo-pack/course"
ICONS = Path(__file__).resolve().parents[1] / "edge_server/site/static/learn/icons.svg"


def _item(kind: str) -> dict:
    slug = f"{kind}-item"
    if kind == "lesson":
        return lesson(slug)
    if kind == "quiz":
        return quiz(slug)
    if kind == "video":
        return video(slug)
    return media(kind, slug)


@pytest.fixture
def every_kind(app, tmp_path):
    """A course holding one item of each kind the manifest schema allows."""
    install(app, build_pack(tmp_path, items=[_item(kind) for kind in ITEM_TYPES]))


def _english_words() -> dict[str, str]:
    """The English label of each kind whose Khmer word differs from it ("PDF" is both)."""
    km = load_catalog("km")
    return {k: w for k, w in TYPE_LABELS.items() if km.gettext(w) != w}


def _meta(html: str) -> list[str]:
    return [
        unescape(m)
        for m in re.findall(r'<span class="meta">(.*?)\s*<span class="badge', html, re.S)
    ]


def test_the_known_kinds_are_the_schemas_and_each_has_a_label():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert list(ITEM_TYPES) == schema["$defs"]["item"]["properties"]["type"]["enum"]
    assert list(TYPE_LABELS) == list(ITEM_TYPES)


@pytest.mark.parametrize("kind", ITEM_TYPES)
def test_each_label_has_a_khmer_translation_and_an_icon(kind):
    label = TYPE_LABELS[kind]
    assert load_catalog("km")._catalog.get(label), f"no Khmer for {label!r}"
    assert f'id="{kind}"' in ICONS.read_text(encoding="utf-8")


def test_the_khmer_course_page_names_every_kind_in_khmer(client, login_as, every_kind):
    login_as("learner")
    html = client.get(COURSE_URL).get_data(as_text=True)
    metas = _meta(html)
    assert len(metas) == len(ITEM_TYPES)
    km = load_catalog("km")
    for kind, meta in zip(ITEM_TYPES, metas, strict=True):
        assert meta.split(" · ")[0] == km.gettext(TYPE_LABELS[kind]), kind
    for kind, word in _english_words().items():
        assert not re.search(rf"\b{word}\b", " ".join(metas)), (kind, word)
        assert kind not in " ".join(metas)


def test_the_english_course_page_names_every_kind_in_english(client, login_as, every_kind):
    user = login_as("learner")
    accounts.update_user(user, language="en")
    metas = _meta(client.get(COURSE_URL).get_data(as_text=True))
    assert [m.split(" · ")[0] for m in metas] == [TYPE_LABELS[k] for k in ITEM_TYPES]


@pytest.mark.parametrize("kind", ITEM_TYPES)
def test_the_item_page_names_its_kind_in_khmer(kind, client, login_as, every_kind):
    login_as("learner")
    html = client.get(f"/learn/items/demo-pack/{kind}-item").get_data(as_text=True)
    heading = re.search(r'<p class="muted">(.*?)(?: · |</p>)', html, re.S)
    assert heading, kind
    assert unescape(heading.group(1)).strip() == load_catalog("km").gettext(TYPE_LABELS[kind])


def test_the_editor_names_every_kind_a_draft_may_hold_in_khmer(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    page = client.get(f"/authoring/{draft_id}").get_data(as_text=True)
    text = re.search(r'<script type="application/json" id="editor-text">(.*?)</script>', page, re.S)
    assert text
    types = json.loads(text.group(1))["types"]
    assert set(EDITABLE_TYPES) <= set(types)
    english = _english_words()
    assert {k: w for k, w in types.items() if w in english.values() or w == k} == {}
