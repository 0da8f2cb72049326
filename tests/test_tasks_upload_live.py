"""A large submission goes up through the resumable protocol on a real server, survives two
dropped connections, and is claimed by ``POST /api/v1/submissions`` with the right bytes."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from content_packs.build import build_pack
from edge_server.base.uploads import CHUNK_BYTES
from tests.livesite import KRU, LiveSite
from tests.tasks_support import SAMPLE, TASK
from tests.upload_support import TIMEOUT, Client, cut_connection

ENV = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", "KRU_LOG_LEVEL": "WARNING"}


def _kru(home: Path, *args: str) -> None:
    subprocess.run([*KRU, "--data-dir", str(home), *args], check=True, timeout=120, env=ENV)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    root = tmp_path_factory.mktemp("task-uploads")
    home = root / "home"
    sample = root / "classroom-reading.zip"
    build_pack(SAMPLE, sample)
    _kru(home, "user", "add", "dara", "--password", "lotus-pond-7")
    _kru(home, "user", "add", "sophea", "--password", "lotus-pond-7")
    _kru(home, "pack", "install", str(sample))
    with LiveSite(home, ["--workers", "2"]) as live:
        yield live


def _cut(site: LiveSite, client: Client, location: str, data: bytes, offset: int) -> None:
    """Send the chunk at ``offset`` and drop the connection half-way through it."""
    path = location[len(site.url) :]
    head = (
        f"PATCH {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{site.port}\r\n"
        f"Cookie: {client.cookie_header()}\r\n"
        f"X-CSRFToken: {client.token}\r\n"
        "Tus-Resumable: 1.0.0\r\n"
        f"Upload-Offset: {offset}\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {CHUNK_BYTES}\r\n\r\n"
    )
    chunk = data[offset : offset + CHUNK_BYTES]
    assert cut_connection(site.url, head, chunk, len(chunk) // 2) == b""


def test_a_submission_cut_twice_resumes_and_arrives_whole(site, tmp_path):
    data = b"%PDF-1.7\n" + os.urandom(19 * 1024 * 1024)  # under the task's 20 MB
    plan = tmp_path / "lesson-plan.pdf"
    plan.write_bytes(data)
    phone = Client.sign_in(site.url, "dara", "lotus-pond-7")
    created = phone.tus_create(len(data), plan.name, purpose="submission")
    assert created.status_code == 201, created.text
    location = f"{site.url}{created.headers['Location']}"

    _cut(site, phone, location, data, 0)  # the Wi-Fi drops in the first chunk
    offset = phone.tus_offset(location)
    assert offset == 0
    response = phone.tus_patch(location, offset, data[offset : offset + CHUNK_BYTES])
    assert response.status_code == 204, response.text
    offset = int(response.headers["Upload-Offset"])
    assert offset == CHUNK_BYTES

    # Back on the Wi-Fi after a reload (a new sign-in): drops again, then finishes.
    again = Client.sign_in(site.url, "dara", "lotus-pond-7")
    _cut(site, again, location, data, offset)
    assert again.tus_offset(location) == CHUNK_BYTES
    again.tus_upload(plan, start=CHUNK_BYTES, location=location)
    assert again.tus_offset(location) == len(data)

    upload_id = location.rstrip("/").rsplit("/", 1)[1]
    response = again.http.post(
        f"{site.url}/api/v1/submissions",
        json={"item": TASK, "note": "Plan for grade 2", "uploads": [upload_id]},
        headers=again.headers(),
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    sid = response.json()["id"]
    shown = again.http.get(f"{site.url}/api/v1/submissions/{sid}", timeout=TIMEOUT).json()
    digest = hashlib.sha256(data).hexdigest()
    assert shown["files"] == [
        {
            "position": 0,
            "name": "lesson-plan.pdf",
            "kind": "document",
            "mime": "application/pdf",
            "size": len(data),
            "sha256": digest,
            "kept": True,
        }
    ]
    stored = site.data_dir / "submissions" / digest[:2] / digest
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
    got = again.http.get(f"{site.url}/submissions/{sid}/files/0", timeout=TIMEOUT)
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == digest
    # The upload was claimed: it is gone, and cannot be claimed twice.
    assert (
        again.http.head(location, headers={"Tus-Resumable": "1.0.0"}, timeout=TIMEOUT).status_code
        == 404
    )


def test_an_upload_of_the_wrong_kind_is_refused_when_claimed(site, tmp_path):
    data = b"<!doctype html><script>alert(1)</script>" + os.urandom(CHUNK_BYTES + 1000)
    fake = tmp_path / "plan.pdf"
    fake.write_bytes(data)
    phone = Client.sign_in(site.url, "sophea", "lotus-pond-7")
    created = phone.tus_create(len(data), fake.name, purpose="submission")
    location = phone.tus_upload(fake, location=f"{site.url}{created.headers['Location']}")
    upload_id = location.rstrip("/").rsplit("/", 1)[1]
    response = phone.http.post(
        f"{site.url}/api/v1/submissions",
        json={"item": TASK, "uploads": [upload_id]},
        headers=phone.headers(),
        timeout=TIMEOUT,
    )
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "wrong_file_kind"
    digest = hashlib.sha256(data).hexdigest()
    assert not (site.data_dir / "submissions" / digest[:2] / digest).exists()
