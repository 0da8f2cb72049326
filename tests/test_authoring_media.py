"""The editor's audio, PDF, captions and task items through ``/api/v1/authoring`` (issue 17)."""

from __future__ import annotations

import json
import os

import pytest

from content_packs.models import Item, Pack
from tests.authoring_helpers import add_item, api, make_course, upload_image
from tests.conftest import assert_api_error

VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nសួស្តី\n".encode()
TASK = {
    "instructions": {"km": "សរសេរផែនការបង្រៀនមួយ។"},
    "accept": ["document", "image"],
    "rubric": [
        {
            "id": "objective",
            "title": {"km": "គោលបំណង"},
            "levels": [
                {"id": "clear", "label": {"km": "ច្បាស់"}, "points": 2},
                {"id": "vague", "label": {"km": "មិនច្បាស់"}, "points": 0},
            ],
        }
    ],
}


def upload(client, draft_id, data: bytes, name: str) -> dict:
    response = upload_image(client, draft_id, data, name=name)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.mark.parametrize(
    ("kind", "name", "data"),
    [
        ("audio", "សំឡេង.mp3", b"ID3" + os.urandom(3 * 1024 * 1024)),
        ("pdf", "ឯកសារ.pdf", b"%PDF-1.4\n" + os.urandom(3 * 1024 * 1024)),
    ],
)
def test_audio_and_pdf_items_are_published(client, login_as, kind, name, data):
    login_as("instructor")
    draft_id = make_course(client)
    ref = upload(client, draft_id, data, name)
    add_item(client, draft_id, type=kind, title={"km": "ឯកសារ"}, file=ref["path"])
    published = api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/publish")
    assert published.status_code == 201, published.get_json()
    item = Item.get(Item.type == kind)
    assert item.title_km == "ឯកសារ"


def test_captions_must_be_webvtt(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    error = assert_api_error(
        upload_image(client, draft_id, b"1\n00:00:00,000 --> 00:00:02,000\nhi\n", "km.vtt"),
        400,
        "draft_bad_captions",
    )
    assert "WEBVTT" in error["message"]
    assert upload(client, draft_id, b"\xef\xbb\xbf" + VTT, "km.vtt")["path"] == "media/km.vtt"


def test_a_video_names_only_captions_uploaded_to_the_draft(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    clip = upload(
        client, draft_id, b"\x00\x00\x00\x18ftypmp42" + os.urandom(2 * 1024 * 1024), "c.mp4"
    )
    poster = upload(client, draft_id, b"\x89PNG\r\n\x1a\n" + os.urandom(1024), "p.png")
    body = {"type": "video", "title": {"km": "វីដេអូ"}, "file": clip["path"]}
    for captions in (
        [{"lang": "km", "file": "media/elsewhere.vtt"}],
        [{"lang": "km", "file": poster["path"]}],
        ["media/km.vtt"],
    ):
        assert_api_error(
            api(
                client,
                "POST",
                f"/api/v1/authoring/courses/{draft_id}/items",
                json={**body, "captions": captions},
            ),
            400,
            "draft_bad_captions",
        )
    vtt = upload(client, draft_id, VTT, "km.vtt")
    add_item(
        client, draft_id, **body, captions=[{"lang": "km", "label": "ខ្មែរ", "file": vtt["path"]}]
    )
    assert api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/publish").status_code == 201
    manifest = json.loads(Pack.get().manifest)
    video = manifest["courses"][0]["modules"][0]["items"][0]
    assert video["captions"] == [{"lang": "km", "label": "ខ្មែរ", "file": "media/km.vtt"}]


def test_a_task_item_is_made_in_the_editor_and_published(client, login_as, app):
    login_as("instructor")
    draft_id = make_course(client)
    add_item(client, draft_id, type="task", title={"km": "កិច្ចការ"}, task=TASK)
    published = api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/publish")
    assert published.status_code == 201, published.get_json()
    pack = Pack.get()
    manifest = json.loads(pack.manifest)
    assert manifest["courses"][0]["modules"][0]["items"][0]["task"] == TASK
    assert Item.get(Item.type == "task").title_km == "កិច្ចការ"


def test_a_task_without_a_rubric_is_refused(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    error = assert_api_error(
        api(
            client,
            "POST",
            f"/api/v1/authoring/courses/{draft_id}/items",
            json={"type": "task", "title": {"km": "ក"}, "task": {**TASK, "rubric": []}},
        ),
        400,
        "draft_invalid",
    )
    assert "rubric" in error["message"]


def test_a_finished_upload_is_needed_to_claim(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    assert_api_error(
        api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/media", json={"upload": 7}),
        400,
        "invalid_body",
    )
    assert_api_error(
        api(
            client,
            "POST",
            f"/api/v1/authoring/courses/{draft_id}/media",
            json={"upload": "0" * 32},
        ),
        404,
        "upload_not_found",
    )


@pytest.mark.parametrize(("role", "status"), [("learner", 403), ("instructor", 400)])
def test_a_media_upload_is_for_authors_and_within_the_pack_limit(
    client, login_as, app, role, status
):
    from tests.test_uploads import _create

    login_as(role)
    limit = app.config["KRU"]["packs.max_upload_mb"] * 1024 * 1024
    response = _create(client, limit + 1, purpose="authoring_media")
    error = assert_api_error(response, status)
    if role == "instructor":
        assert error["code"] == "draft_media_too_large"
        assert _create(client, 40 * 1024 * 1024, purpose="authoring_media").status_code == 201
