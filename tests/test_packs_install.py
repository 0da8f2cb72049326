"""Installing, upgrading and removing packs: catalog rows, content store, progress, events."""

from __future__ import annotations

import json
import uuid

import pytest

from content_packs.errors import PackConflict, PackNotFound
from content_packs.install import list_packs, remove_pack
from content_packs.models import Course, Item, Module, Pack, PackFile
from edge_server.base.db import utcnow
from edge_server.learning.models import Event
from tests.packs_factory import build_pack, install, lesson, media, quiz, video
from tests.packs_helpers import store_files


def test_install_writes_catalog_rows_for_every_item(app, tmp_path):
    zip_path = build_pack(tmp_path, items=[lesson("intro"), video("clip"), quiz("check")])

    result = install(app, zip_path)

    assert (result.pack_id, result.version, result.signed) == ("demo-pack", "1.0.0", False)
    keys = [i.key for i in Item.select().order_by(Item.position)]
    assert keys == ["demo-pack/intro", "demo-pack/clip", "demo-pack/check"]
    assert Course.get().key == "demo-pack/course" and Course.get().open
    assert Module.get().key == "demo-pack/module-1"


def test_store_holds_each_file_once_by_sha256(app, tmp_path):
    install(app, build_pack(tmp_path, items=[media("image", "a"), media("image", "b")]))

    refs = {json.loads(i.data)["file"]["sha256"] for i in Item.select()}
    assert len(refs) == 1  # the same PNG twice
    (sha,) = refs
    assert store_files(app) == sorted(set(store_files(app)))
    assert (app.config["KRU_HOME"].content / sha[:2] / sha).is_file()


def test_two_packs_share_store_files(app, tmp_path):
    install(app, build_pack(tmp_path, pack_id="first", items=[media("image")]))
    before = store_files(app)
    install(app, build_pack(tmp_path, pack_id="second", items=[media("image")]))

    assert store_files(app) == before
    assert PackFile.select().count() == 2  # one row per pack, one file on disk


def test_video_data_has_captions_poster_and_file_refs(app, tmp_path):
    install(app, build_pack(tmp_path, items=[video("clip")]))

    data = Item.get(Item.key == "demo-pack/clip").payload
    assert data["file"]["mime"] == "video/mp4"
    assert set(data["file"]) == {"path", "sha256", "size", "mime"}
    assert data["captions"][0]["lang"] == "km"
    assert data["captions"][0]["file"]["mime"].startswith("text/vtt")
    assert data["poster"] is None


def test_quiz_data_is_filled_with_defaults(app, tmp_path):
    install(app, build_pack(tmp_path, items=[quiz("check")]))

    quiz_data = Item.get(Item.key == "demo-pack/check").payload["quiz"]
    assert quiz_data["pass_mark"] == 0.6 and quiz_data["attempts"] is None
    first = quiz_data["questions"][0]
    assert first["answer"] == "yes" and first["points"] == 1
    assert first["prompt_km"].startswith("តើសិស្ស")


def test_lesson_links_to_pack_files_become_content_urls(app, tmp_path):
    body = "# Look\n\n![corner](../media/pic.png)\n"
    zip_path = build_pack(tmp_path, items=[lesson("intro", body=body), media("image", "pic")])
    install(app, zip_path)

    html = Item.get(Item.key == "demo-pack/intro").body
    sha = Item.get(Item.key == "demo-pack/pic").payload["file"]["sha256"]
    assert f'src="/c/{sha}/pic.png"' in html


def test_html_lesson_is_sanitised_not_refused(app, tmp_path):
    evil = (
        '<p onclick="steal()">ស្វាគមន៍</p><script>alert("x")</script>'
        '<img src="x.png" onerror="alert(1)"><a href="javascript:alert(2)">link</a>'
    )
    install(app, build_pack(tmp_path, items=[lesson("intro", body=evil, html=True)]))

    html = Item.get(Item.key == "demo-pack/intro").body
    assert "ស្វាគមន៍" in html
    for bad in ("<script", "alert", "onclick", "onerror", "javascript:"):
        assert bad not in html


def test_reinstalling_the_same_version_changes_nothing(app, tmp_path):
    zip_path = build_pack(tmp_path)
    install(app, zip_path)
    installed_at = Pack.get().installed_at

    again = install(app, zip_path)

    assert again.already_installed
    assert Pack.get().installed_at == installed_at


def _progress(user_id: int, item: str) -> None:
    from edge_server.learning.models import Progress

    now = utcnow()
    Progress.create(
        user_id=user_id, item=item, status="completed", first_ts=now, last_ts=now, completion=1
    )


def test_upgrade_keeps_progress_on_items_that_remain(app, tmp_path, make_user):
    from edge_server.learning.models import Progress

    learner = make_user()
    install(app, build_pack(tmp_path, items=[lesson("intro"), lesson("old")]))
    intro_id = Item.get(Item.key == "demo-pack/intro").id
    _progress(learner.id, "demo-pack/intro")

    result = install(
        app, build_pack(tmp_path, version="1.1.0", items=[lesson("intro"), lesson("new")])
    )

    assert result.upgraded_from == "1.0.0"
    assert Item.get(Item.key == "demo-pack/intro").id == intro_id
    kept = Progress.select().join(Item, on=(Progress.item == Item.key)).count()
    assert kept == 1
    assert not Item.select().where(Item.key == "demo-pack/old").exists()
    assert Item.select().where(Item.key == "demo-pack/new").exists()


def test_upgrade_drops_files_no_longer_used(app, tmp_path):
    install(app, build_pack(tmp_path, items=[media("pdf")]))
    pdf_sha = Item.get().payload["file"]["sha256"]

    install(app, build_pack(tmp_path, version="2.0.0", items=[lesson("intro")]))

    assert pdf_sha not in store_files(app)
    assert PackFile.select().where(PackFile.sha256 == pdf_sha).count() == 0


def test_older_version_is_refused(app, tmp_path):
    install(app, build_pack(tmp_path, version="2.0.0"))

    with pytest.raises(PackConflict) as excinfo:
        install(app, build_pack(tmp_path, version="1.9.0"))

    assert excinfo.value.code == "pack_downgrade"
    assert Pack.get().version == "2.0.0"


def test_older_version_installs_when_forced(app, tmp_path):
    install(app, build_pack(tmp_path, version="2.0.0"))

    result = install(app, build_pack(tmp_path, version="1.9.0"), force=True)

    assert result.upgraded_from == "2.0.0"
    assert Pack.get().version == "1.9.0"


def test_prerelease_is_older_than_its_release(app, tmp_path):
    install(app, build_pack(tmp_path, version="1.0.0"))

    with pytest.raises(PackConflict):
        install(app, build_pack(tmp_path, version="1.0.0-beta.2"))


def test_same_version_with_other_content_is_refused(app, tmp_path):
    install(app, build_pack(tmp_path, items=[lesson("intro")]))

    with pytest.raises(PackConflict) as excinfo:
        install(app, build_pack(tmp_path, items=[lesson("other")]))

    assert excinfo.value.code == "pack_same_version"


def test_remove_keeps_learning_events(app, tmp_path, make_user):
    learner = make_user()
    install(app, build_pack(tmp_path))
    Event.create(
        id=str(uuid.uuid4()),
        user=learner,
        verb="completed",
        object="demo-pack/lesson-1",
        server_ts=utcnow(),
        boot_id="test",
    )

    remove_pack("demo-pack", app.config["KRU_HOME"])

    assert Pack.select().count() == 0 and Item.select().count() == 0
    assert Event.select().where(Event.object == "demo-pack/lesson-1").count() == 1


def test_remove_deletes_unused_store_files_only(app, tmp_path):
    install(app, build_pack(tmp_path, pack_id="keep", items=[media("image")]))
    kept = store_files(app)
    install(app, build_pack(tmp_path, pack_id="drop", items=[media("image"), media("pdf")]))

    remove_pack("drop", app.config["KRU_HOME"])

    assert store_files(app) == kept


def test_removing_an_unknown_pack_is_an_error(app):
    with pytest.raises(PackNotFound):
        remove_pack("nope", app.config["KRU_HOME"])


def test_list_packs_counts_courses_and_items(app, tmp_path):
    install(app, build_pack(tmp_path, items=[lesson("a"), lesson("b"), quiz("c")]))

    (row,) = list_packs()

    assert (row["id"], row["courses"], row["items"], row["signed"]) == ("demo-pack", 1, 3, False)
