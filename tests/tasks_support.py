"""Helpers for the task tests: the sample pack installed, its quiz answered and its task
reviewed, submissions and reviews through the API, real file bytes of each kind."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from content_packs.build import build_pack
from content_packs.install import install_pack
from sync.protocol import CRITERIA_EXTENSION
from tests.conftest import PASSWORD, api_headers, csrf_token

SAMPLE = Path(__file__).resolve().parents[1] / "content_packs" / "examples" / "classroom-reading"
TASK = "classroom-reading/plan-reading-lesson"
ALL_CLEAR = {"objective": "clear", "timing": "complete", "support": "planned"}  # 6 of 6
BELOW = {"objective": "vague", "timing": "partial", "support": "missing"}  # 2 of 6
CHECK = "classroom-reading/check-groups"  # the sample pack's quiz, and its right answers
RIGHT: dict[str, Any] = {
    "before-reading": "show-cover",
    "pair-roles": ["swap-roles", "wait-three"],
    "same-story": True,
}
CRITERIA = CRITERIA_EXTENSION


def install_sample(app, tmp_path: Path) -> None:
    """Build the sample pack from its folder and install it on ``app``'s site."""
    zip_path = tmp_path / "classroom-reading.zip"
    build_pack(SAMPLE, zip_path)
    install_pack(zip_path, app.config["KRU"], app.config["KRU_HOME"])


def png_bytes(side: int = 1000) -> bytes:
    """Return a PNG of random pixels (about 3 MB at 1000 px: it does not compress)."""
    from PIL import Image

    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    body = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + os.urandom(2048).hex().encode()
    return body + b"\n%%EOF\n"


def reviewed(user, criteria: list[tuple[str, str | None, int, int]], verb: str = "reviewed"):
    """Ingest a review with the criteria results practicum15's code writes (the contract)."""
    from edge_server.learning import events as learning_events

    result = {
        "decision": "accepted",
        "score": 1.0,
        "extensions": {
            CRITERIA: [
                {"criterion": cid, "competency": code, "level": level, "max": top}
                for cid, code, level, top in criteria
            ]
        },
    }
    event = learning_events.CleanEvent(0, str(uuid.uuid4()), verb, TASK, result, {}, None)
    learning_events.ingest(user, [event])


# -- submissions and reviews through the JSON API, on a Flask test client --------------


def submit(client, files, note="", item=TASK, sid=None):
    """POST the multipart form (encoded here in memory: the test client's spooled body of a
    large form stays open after the request)."""
    data = MultiDict([("item", item), ("note", note)])
    for name, content in files:
        data.add("file", FileStorage(io.BytesIO(content), filename=name))
    if sid:
        data.add("id", sid)
    boundary, body = encode_multipart(data)
    return client.post(
        "/api/v1/submissions",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=api_headers(client),
    )


def review(client, sid, rubric, decision="accepted", comment="Good plan."):
    return client.post(
        f"/api/v1/submissions/{sid}/review",
        json={"rubric": rubric, "comment": comment, "decision": decision},
        headers=api_headers(client),
    )


def signin(client, user):
    client.delete("/api/v1/session", headers={"X-CSRFToken": csrf_token(client)})
    response = client.post(
        "/api/v1/session",
        json={"username": user.username, "password": PASSWORD},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 200, response.get_json()
