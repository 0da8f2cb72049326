"""``/api/v1/authoring``: drafts, revisions and conflicts, roles, publish as a signed pack."""

from __future__ import annotations

import json
import stat
import zipfile

import pytest

from content_packs.models import Item, Pack
from edge_server.base import site_signing
from edge_server.base.datahome import DataHome
from edge_server.learning import assignments
from edge_server.learning.models import Progress
from tests.authoring_helpers import (
    QUIZ,
    add_item,
    api,
    make_course,
    png_bytes,
    three_item_course,
    upload_image,
)
from tests.conftest import assert_api_error
from tests.learning_catalog import ev


@pytest.fixture
def app_config(app_config):
    return {**app_config, "site_name": "TEC Battambang"}


def draft(client, draft_id):
    response = client.get(f"/api/v1/authoring/courses/{draft_id}")
    assert response.status_code == 200
    return response.get_json()


@pytest.mark.parametrize("role", ["instructor", "admin"])
def test_instructors_and_admins_create_a_course_draft(client, login_as, role):
    login_as(role)
    draft_id = make_course(client)
    assert "/" not in draft_id
    body = draft(client, draft_id)
    assert body["title"] == {"km": "ការអានឮៗ", "en": "Reading aloud"}
    assert body["revision"] == 1 and len(body["modules"]) == 1


def test_learners_cannot_author(client, login_as):
    login_as("learner")
    response = api(client, "POST", "/api/v1/authoring/courses", json={"title": {"km": "ក"}})
    assert_api_error(response, 403)
    assert_api_error(client.get("/api/v1/authoring/courses"), 403)


def test_signed_out_callers_are_refused(client):
    assert_api_error(client.get("/api/v1/authoring/courses"), 401)


@pytest.mark.parametrize(
    "body",
    [{}, {"title": "text"}, {"title": {"km": "", "en": " "}}, {"title": {"km": "ក" * 301}}],
)
def test_a_course_needs_a_title(client, login_as, body):
    login_as("instructor")
    response = api(client, "POST", "/api/v1/authoring/courses", json=body)
    assert_api_error(response, 400, "draft_invalid")
    assert client.get("/api/v1/authoring/courses").get_json()["drafts"] == []


def test_a_lesson_and_a_quiz_are_added_and_each_change_bumps_the_revision(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    first = add_item(client, draft_id, type="lesson", title={"km": "មេរៀន"}, body_md="# ក\r\nខ\r\n")
    second = add_item(client, draft_id, type="quiz", title={"km": "តេស្ត"}, questions=QUIZ)
    assert (first["revision"], second["revision"]) == (2, 3)
    items = draft(client, draft_id)["modules"][0]["items"]
    assert [i["type"] for i in items] == ["lesson", "quiz"]
    assert items[0]["body_md"] == "# ក\nខ\n"  # what the build will read
    assert items[1]["quiz"]["questions"] == QUIZ


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "essay", "title": {"km": "ក"}}, "draft_bad_type"),
        ({"type": "quiz", "title": {"km": "ក"}, "questions": []}, "draft_invalid"),
        (
            {"type": "quiz", "title": {"km": "ក"}, "questions": [{**QUIZ[0], "answer": "zz"}]},
            "draft_invalid",
        ),
        (
            {"type": "quiz", "title": {"km": "ក"}, "questions": [{"id": "x", "type": "single"}]},
            "draft_invalid",
        ),  # fmt: skip
        ({"type": "image", "title": {"km": "ក"}, "file": "media/none.png"}, "draft_invalid"),
        ({"type": "lesson", "title": {"km": "ក"}, "body_md": 5}, "draft_invalid"),
    ],
)
def test_items_that_do_not_fit_the_pack_format_are_refused(client, login_as, body, code):
    login_as("instructor")
    draft_id = make_course(client)
    response = api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/items", json=body)
    assert_api_error(response, 400, code)
    after = draft(client, draft_id)
    assert after["revision"] == 1 and after["modules"][0]["items"] == []


def test_a_stale_save_is_refused_with_draft_conflict_and_changes_nothing(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    item = add_item(client, draft_id, type="lesson", title={"km": "ក"}, body_md="first")
    url = f"/api/v1/authoring/courses/{draft_id}/items/{item['id']}"
    seen = item["revision"]
    ok = api(client, "PATCH", url, json={"revision": seen, "body_md": "editor one"})
    assert ok.status_code == 200 and ok.get_json()["revision"] == seen + 1
    stale = api(client, "PATCH", url, json={"revision": seen, "body_md": "editor two"})
    error = assert_api_error(stale, 409, "draft_conflict")
    assert error["revision"] == seen + 1 and error["updated_by"]
    assert draft(client, draft_id)["modules"][0]["items"][0]["body_md"] == "editor one"


def test_a_change_without_a_revision_is_refused(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    item = add_item(client, draft_id, type="lesson", title={"km": "ក"}, body_md="x")
    url = f"/api/v1/authoring/courses/{draft_id}/items/{item['id']}"
    assert_api_error(api(client, "PATCH", url, json={"body_md": "y"}), 400, "revision_required")


def test_reorder_moves_items_between_modules(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    a = add_item(client, draft_id, type="lesson", title={"km": "ក"}, body_md="a")["id"]
    b = add_item(client, draft_id, type="lesson", title={"km": "ខ"}, body_md="b")["id"]
    module = api(
        client, "POST", f"/api/v1/authoring/courses/{draft_id}/modules", json={"title": {"km": "២"}}
    ).get_json()
    first = draft(client, draft_id)["modules"][0]["id"]
    order = {"revision": module["revision"], "modules": [
        {"id": module["id"], "items": [b]}, {"id": first, "items": [a]}]}  # fmt: skip
    url = f"/api/v1/authoring/courses/{draft_id}/order"
    assert api(client, "PUT", url, json=order).status_code == 200
    modules = draft(client, draft_id)["modules"]
    assert [[i["id"] for i in m["items"]] for m in modules] == [[b], [a]]
    bad = {"revision": module["revision"] + 1, "modules": [{"id": first, "items": [a]}]}
    assert_api_error(api(client, "PUT", url, json=bad), 400, "draft_bad_order")


def test_images_go_into_the_content_store_by_sha256(client, login_as, app):
    login_as("instructor")
    draft_id = make_course(client)
    data = png_bytes()
    response = upload_image(client, draft_id, data)
    assert response.status_code == 201
    ref = response.get_json()
    import hashlib

    assert ref["sha256"] == hashlib.sha256(data).hexdigest()
    assert ref["path"].startswith("media/") and ref["path"].endswith(".png")
    with client.get(ref["url"]) as served:
        assert served.status_code == 200 and served.data == data
    assert_api_error(upload_image(client, draft_id, b"<script>", name="x.html"), 400)
    # Over one upload chunk: refused before it is read (issue 12 body caps).
    assert_api_error(
        upload_image(client, draft_id, png_bytes(9 * 1024 * 1024)), 413, "body_too_large"
    )


def test_preview_renders_markdown_with_the_servers_sanitiser(client, login_as):
    login_as("instructor")
    response = api(
        client,
        "POST",
        "/api/v1/authoring/preview",
        json={"body_md": "# ចំណងជើង\n\n<script>alert(1)</script><b onclick='x()'>ដិត</b>"},
    )
    html = response.get_json()["html"]
    assert "<h1>ចំណងជើង</h1>" in html and "<b>ដិត</b>" in html
    assert "script" not in html and "onclick" not in html


def test_publish_makes_a_signed_local_version_seen_by_the_assigned_cohort(
    client, login_as, make_user, make_cohort, app
):
    instructor = login_as("instructor")
    draft_id = three_item_course(client)
    response = api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/publish")
    assert response.status_code == 201, response.get_json()
    pack = response.get_json()["pack"]
    assert pack["signed"] is True
    assert pack["version"] == "1.0.0+tec-battambang.1"
    row = Pack.get(Pack.pack_id == pack["id"])
    assert row.signer_key == site_signing.public_key_b64(DataHome(app.config["KRU"].data_dir))
    key_file = DataHome(app.config["KRU"].data_dir).secrets / "site-signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    items = list(Item.select().where(Item.key.startswith(pack["id"] + "/")))
    assert sorted(i.type for i in items) == ["image", "lesson", "quiz"]
    lesson = next(i for i in items if i.type == "lesson")
    assert "/c/" in lesson.body  # the image links to the content store
    learner = make_user("learner")
    cohort = make_cohort(learners=[learner])
    course_key = f"{pack['id']}/{pack['id']}"
    assignments.assign(cohort, course_key, None, instructor)
    client.post("/logout", headers={"X-CSRFToken": ""})
    login_as(user=learner)
    listed = client.get("/api/v1/courses").get_json()["courses"]
    assert course_key in json.dumps(listed)


def test_republishing_keeps_progress_on_unchanged_items(
    client, login_as, make_user, make_cohort, app
):
    instructor = login_as("instructor")
    draft_id = three_item_course(client)
    url = f"/api/v1/authoring/courses/{draft_id}"
    pack_id = api(client, "POST", f"{url}/publish").get_json()["pack"]["id"]
    body = draft(client, draft_id)
    lesson, _image, quiz = body["modules"][0]["items"]
    # A learner reads the lesson of version 1.
    from edge_server.base.db import db

    learner = make_user("learner")
    assignments.assign(make_cohort(learners=[learner]), f"{pack_id}/{pack_id}", None, instructor)
    from edge_server.learning import events

    events.ingest_body(learner, {"events": [ev("completed", f"{pack_id}/{lesson['slug']}")]})
    assert Progress.get(Progress.item == f"{pack_id}/{lesson['slug']}").status == "completed"
    # The quiz changes, the lesson does not; version 2 is published.
    changed = [{**QUIZ[0], "prompt_km": "សំណួរថ្មី"}]
    api(client, "PATCH", f"{url}/items/{quiz['id']}",
        json={"revision": body["revision"], "questions": changed})  # fmt: skip
    second = api(client, "POST", f"{url}/publish")
    assert second.status_code == 201
    assert second.get_json()["pack"]["version"] == "1.0.0+tec-battambang.2"
    assert second.get_json()["upgraded_from"] == "1.0.0+tec-battambang.1"
    db.connect(reuse_if_open=True)
    assert Progress.get(Progress.item == f"{pack_id}/{lesson['slug']}").status == "completed"
    history = draft(client, draft_id)["history"]
    assert [h["version"] for h in history] == [
        "1.0.0+tec-battambang.2",
        "1.0.0+tec-battambang.1",
    ]
    assert history[0]["changes"] == {"added": [], "changed": [quiz["slug"]], "removed": []}


def test_publishing_an_empty_draft_is_refused(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    response = api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/publish")
    assert_api_error(response, 400, "draft_empty")
    assert Pack.select().count() == 0


def test_draft_media_survive_the_garbage_collection_of_other_installs(client, login_as, app):
    from content_packs.install import collect_garbage
    from content_packs.store import ContentStore

    login_as("instructor")
    draft_id = make_course(client)
    ref = upload_image(client, draft_id, png_bytes(1024 * 1024)).get_json()
    home = DataHome(app.config["KRU"].data_dir)
    collect_garbage(home)
    assert ContentStore(home).has(ref["sha256"])


def test_an_installed_pack_opens_as_a_draft_and_publishes_with_history(
    client, login_as, app, tmp_path
):
    from content_packs.build import build_pack
    from content_packs.install import install_pack

    manifest = build_pack("content_packs/examples/classroom-reading", tmp_path / "cr.zip")
    install_pack(tmp_path / "cr.zip", app.config["KRU"], DataHome(app.config["KRU"].data_dir))
    user = login_as("instructor")
    response = api(client, "POST", "/api/v1/authoring/packs/classroom-reading/draft")
    assert response.status_code == 201
    draft_id = response.get_json()["id"]
    body = draft(client, draft_id)
    slugs = [i["slug"] for m in body["modules"] for i in m["items"]]
    assert slugs == [i["slug"] for m in manifest["courses"][0]["modules"] for i in m["items"]]
    published = api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/publish")
    assert published.status_code == 201, published.get_json()
    assert published.get_json()["pack"]["version"] == "1.0.0+tec-battambang.1"
    history = draft(client, draft_id)["history"]
    assert history[0]["published_by"] == user.username
    assert history[0]["changes"] == {"added": [], "changed": [], "removed": []}
    with client.get("/api/v1/packs/classroom-reading/download") as download:
        assert download.status_code == 200
        data = download.data
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert "manifest.sig" in zf.namelist()
        assert json.loads(zf.read("manifest.json"))["version"] == "1.0.0+tec-battambang.1"
    assert_api_error(api(client, "POST", "/api/v1/authoring/packs/nope/draft"), 404)


def test_the_lesson_preview_links_draft_images_to_a_url_that_serves_them(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    data = png_bytes(1024 * 1024)
    ref = upload_image(client, draft_id, data).get_json()
    response = api(
        client,
        "POST",
        "/api/v1/authoring/preview",
        json={"body_md": f"![រូប]({ref['path']})", "draft": draft_id},
    )
    import re

    srcs = re.findall(r'src="([^"]+)"', response.get_json()["html"])
    assert len(srcs) == 1
    with client.get(srcs[0]) as served:
        assert served.status_code == 200 and served.data == data


def test_an_item_removed_in_a_new_version_keeps_its_history(
    client, login_as, make_user, make_cohort, app
):
    from edge_server.base.db import db
    from edge_server.learning import events
    from edge_server.learning.models import Event

    instructor = login_as("instructor")
    draft_id = three_item_course(client)
    url = f"/api/v1/authoring/courses/{draft_id}"
    pack_id = api(client, "POST", f"{url}/publish").get_json()["pack"]["id"]
    body = draft(client, draft_id)
    lesson = body["modules"][0]["items"][0]
    learner = make_user("learner")
    assignments.assign(make_cohort(learners=[learner]), f"{pack_id}/{pack_id}", None, instructor)
    events.ingest_body(learner, {"events": [ev("completed", f"{pack_id}/{lesson['slug']}")]})
    logged = Event.select().where(Event.object.contains(lesson["slug"])).count()
    assert logged >= 1

    removed = api(
        client, "DELETE", f"{url}/items/{lesson['id']}", json={"revision": body["revision"]}
    )
    assert removed.status_code == 200
    assert api(client, "POST", f"{url}/publish").status_code == 201
    db.connect(reuse_if_open=True)
    assert not Item.select().where(Item.key == f"{pack_id}/{lesson['slug']}").exists()
    assert Progress.get(Progress.item == f"{pack_id}/{lesson['slug']}").status == "completed"
    assert Event.select().where(Event.object.contains(lesson["slug"])).count() == logged
    assert draft(client, draft_id)["history"][0]["changes"]["removed"] == [lesson["slug"]]
