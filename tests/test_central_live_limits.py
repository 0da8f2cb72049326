"""The central server refuses an oversized sync batch before reading it (a real waitress).

docs/sync-protocol.md promises "413 before the body is read"; the site agent halves its
batch on ``batch_too_large``, so the code must come in the JSON error, not waitress's text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from sync import protocol
from tests.sync_support import CentralServer
from tests.upload_support import MIB, send_partly


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralServer]:
    server = CentralServer(tmp_path_factory.mktemp("central-limits") / "central").start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("path", "code"),
    [(protocol.BATCHES_PATH, protocol.E_BATCH_TOO_LARGE), ("/api/v1/session", "body_too_large")],
)
def test_a_huge_body_is_refused_before_it_is_read(central, path, code):
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{central.port}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {512 * MIB}\r\n\r\n"
    )
    # 1 MiB of 512 MiB (more than any route takes: a release upload takes 256) is sent; the
    # answer comes without the rest.
    answer = send_partly(central.url, head, b"\0" * MIB, MIB)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head
    assert json.loads(body)["error"]["code"] == code


def test_a_batch_just_over_the_limit_gets_batch_too_large(central):
    response = requests.post(
        central.url + protocol.BATCHES_PATH, data=b"\0" * (protocol.MAX_BODY_BYTES + 1), timeout=30
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == protocol.E_BATCH_TOO_LARGE


def test_a_sign_in_body_over_one_mb_is_refused(central):
    response = requests.post(
        central.url + "/api/v1/session",
        data=b"{" * (2 * MIB),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
