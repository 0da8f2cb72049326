"""Small factories for the authoring tests: a Khmer course draft through the API."""

from __future__ import annotations

import io
import os
from typing import Any

from tests.conftest import api_headers

QUIZ = [
    {
        "id": "q1",
        "type": "single",
        "prompt_km": "តើកុមារអានបានល្អបំផុតនៅពេលណា?",
        "prompt_en": "When do children read best?",
        "choices": [
            {"id": "a", "text_km": "ពេលពួកគេសប្បាយចិត្ត", "text_en": "When they feel safe"},
            {"id": "b", "text_km": "ពេលគេខ្លាច", "text_en": "When they are afraid"},
        ],
        "answer": "a",
        "feedback_correct_km": "ត្រឹមត្រូវ!",
        "feedback_wrong_km": "មើលមេរៀនម្ដងទៀត។",
    },
    {
        "id": "q2",
        "type": "true_false",
        "prompt_km": "ការអានឮៗជួយសិស្ស។",
        "answer": True,
    },
]


def png_bytes(size: int = 3 * 1024 * 1024) -> bytes:
    """Return a PNG signature followed by ``size`` random bytes (real sizes, not a stub)."""
    return b"\x89PNG\r\n\x1a\n" + os.urandom(size)


def api(client: Any, method: str, url: str, **kwargs: Any) -> Any:
    return client.open(url, method=method, headers=api_headers(client), **kwargs)


def make_course(client: Any, title_en: str = "Reading aloud") -> str:
    response = api(
        client,
        "POST",
        "/api/v1/authoring/courses",
        json={"title": {"km": "ការអានឮៗ", "en": title_en}},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def add_item(client: Any, draft_id: str, **body: Any) -> dict[str, Any]:
    response = api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/items", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def upload_image(client: Any, draft_id: str, data: bytes, name: str = "រូប.png") -> Any:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(
        path=f"/api/v1/authoring/courses/{draft_id}/media",
        method="POST",
        headers=api_headers(client),
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    environ = builder.get_environ()
    try:  # werkzeug leaves the spooled body of a large upload open
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()


def three_item_course(client: Any) -> str:
    """A Khmer course: a lesson with an image, an image item and a quiz."""
    draft_id = make_course(client)
    image = upload_image(client, draft_id, png_bytes()).get_json()
    add_item(
        client,
        draft_id,
        type="lesson",
        title={"km": "មេរៀនទី១", "en": "Lesson one"},
        body_md=f"# ការអាន\n\nអានឱ្យឮៗ។\n\n![រូប]({image['path']})\n",
    )
    add_item(
        client,
        draft_id,
        type="image",
        title={"km": "រូបភាព", "en": "Picture"},
        file=image["path"],
        alt={"km": "ថ្នាក់រៀន", "en": "A classroom"},
    )
    add_item(client, draft_id, type="quiz", title={"km": "តេស្ត", "en": "Check"}, questions=QUIZ)
    return draft_id
