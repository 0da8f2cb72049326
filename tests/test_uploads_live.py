"""Pack uploads and body limits against a real ``kru serve`` (waitress's own limits matter).

Packs are real: the sample pack built by the project's build code, and packs of 5 MB and
50 MB of random bytes. A 50 MB pack goes up in resumable chunks (docs/api.md); a pack up
to one chunk may still go in one multipart request.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from content_packs.build import build_pack
from content_packs.demo import SAMPLE
from edge_server.base.uploads import CHUNK_BYTES
from tests.livesite import KRU, LiveSite
from tests.upload_support import MIB, TUS, Client, cut_connection, random_pack, send_partly

ENV = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", "KRU_LOG_LEVEL": "WARNING"}


def _kru(home: Path, *args: str) -> None:
    subprocess.run([*KRU, "--data-dir", str(home), *args], check=True, timeout=120, env=ENV)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, module_live_site) -> LiveSite:
    home = tmp_path_factory.mktemp("uploads") / "home"
    _kru(home, "user", "add", "teacher", "--password", "lotus-pond-7", "--role", "instructor")
    _kru(home, "user", "add", "other", "--password", "lotus-pond-7", "--role", "instructor")
    _kru(home, "user", "add", "dara", "--password", "lotus-pond-7")
    return module_live_site(["--workers", "2"], data_dir=home)


@pytest.fixture(scope="module")
def teacher(site: LiveSite) -> Client:
    return Client.sign_in(site.url, "teacher", "lotus-pond-7")


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("packs")
    sample = root / "classroom-reading.zip"
    build_pack(SAMPLE, sample)
    # The largest pack one request carries: a whole chunk, less a little for the zip's own
    # headers and manifest.
    chunk = random_pack(root, (CHUNK_BYTES - 12_000) / 1_000_000, "one-chunk")
    assert CHUNK_BYTES - 64 * 1024 < chunk.stat().st_size <= CHUNK_BYTES
    return {
        "sample": sample,
        "5mb": random_pack(root, 5, "five-mb"),
        "chunk": chunk,
        "50mb": random_pack(root, 50, "fifty-mb"),
    }


def _store_matches(site: LiveSite, pack_zip: Path) -> None:
    """Every file of ``pack_zip`` is in the site's content store with the same bytes."""
    with zipfile.ZipFile(pack_zip) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for entry in manifest["files"]:
            stored = site.data_dir / "content" / entry["sha256"][:2] / entry["sha256"]
            assert stored.is_file(), entry["path"]
            digest = hashlib.sha256(zf.read(entry["path"])).hexdigest()
            assert digest == entry["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["sample", "5mb", "chunk"])
def test_pack_uploads_in_one_request(site, teacher, packs, name):
    response = teacher.upload_one_request(packs[name], force="1")
    assert response.status_code in (200, 201), response.text
    _store_matches(site, packs[name])


def test_fifty_mb_pack_uploads_in_chunks_and_installs(site, teacher, packs):
    location = teacher.tus_upload(packs["50mb"])
    response = teacher.install_upload(location)
    assert response.status_code == 201, response.text
    assert response.json()["pack"]["id"] == "fifty-mb"
    _store_matches(site, packs["50mb"])
    assert teacher.http.head(location, headers=TUS).status_code == 404  # used up


def test_one_request_over_a_chunk_is_refused_before_the_body_is_read(site, teacher):
    body_size = 100 * MIB
    head = (
        "POST /api/v1/packs HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{site.port}\r\n"
        f"Cookie: {teacher.cookie_header()}\r\n"
        f"X-CSRFToken: {teacher.token}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {body_size}\r\n\r\n"
    )
    # 1 MiB of a 100 MiB body is sent: the answer comes without the rest.
    answer = send_partly(site.url, head, b"\0" * MIB, MIB)
    status, _, rest = answer.partition(b"\r\n")
    assert b" 413 " in status, answer[:300]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "pack_too_large"


def test_an_upload_cut_at_half_continues_from_there(site, packs):
    pack = packs["50mb"]
    size = pack.stat().st_size
    data = pack.read_bytes()
    first = Client.sign_in(site.url, "teacher", "lotus-pond-7")
    created = first.tus_create(size, pack.name)
    assert created.status_code == 201, created.text
    location = f"{site.url}{created.headers['Location']}"
    path = created.headers["Location"]

    # Whole chunks up to the one that holds the half-way byte...
    half = size // 2
    offset = 0
    while offset + CHUNK_BYTES <= half:
        response = first.tus_patch(location, offset, data[offset : offset + CHUNK_BYTES])
        assert response.status_code == 204, response.text
        offset = int(response.headers["Upload-Offset"])
    # ...then that chunk's request is cut at the half-way byte: the connection drops.
    head = (
        f"PATCH {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{site.port}\r\n"
        f"Cookie: {first.cookie_header()}\r\n"
        f"X-CSRFToken: {first.token}\r\n"
        "Tus-Resumable: 1.0.0\r\n"
        f"Upload-Offset: {offset}\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {CHUNK_BYTES}\r\n\r\n"
    )
    cut_at = half - offset
    assert 0 < cut_at < CHUNK_BYTES
    answer = cut_connection(site.url, head, data[offset : offset + CHUNK_BYTES], cut_at)
    assert answer == b""  # nothing came back: the server waits for the rest, then gives up

    # Later, from another sign-in (a reloaded page), the client asks where it stands.
    second = Client.sign_in(site.url, "teacher", "lotus-pond-7")
    resumed_at = second.tus_offset(location)
    assert resumed_at == offset and resumed_at > 0
    second.tus_upload(pack, start=resumed_at, location=location)
    assert second.tus_offset(location) == size
    response = second.install_upload(location, force=True)
    assert response.status_code in (200, 201), response.text
    _store_matches(site, pack)


def test_another_user_cannot_see_or_finish_an_upload(site, teacher, packs):
    location = teacher.tus_upload(packs["sample"])
    other = Client.sign_in(site.url, "other", "lotus-pond-7")
    assert other.http.head(location, headers=TUS).status_code == 404
    assert other.install_upload(location).status_code == 404
    assert teacher.http.head(location, headers=TUS).status_code == 200


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/session", "body_too_large"),
        ("/api/v1/events", "body_too_large"),
        ("/login", "body_too_large"),
        (None, "body_too_large"),  # a resumable-upload chunk
        ("/api/v1/packs", "pack_too_large"),
    ],
)
def test_a_huge_body_is_refused_before_it_is_read(site, teacher, path, code):
    if path is None:
        created = teacher.tus_create(200 * MIB)
        path = created.headers["Location"]
    method = "PATCH" if path.startswith("/api/v1/uploads/") else "POST"
    head = (
        f"{method} {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{site.port}\r\n"
        f"Cookie: {teacher.cookie_header()}\r\n"
        f"X-CSRFToken: {teacher.token}\r\n"
        "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {100 * MIB}\r\n\r\n"
    )
    # 1 MiB of the 100 MiB is sent; the answer comes without the rest.
    answer = send_partly(site.url, head, b"[" * MIB, MIB)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    head, _, body = answer.partition(b"\r\n\r\n")
    if not path.startswith("/api/"):  # a page: the error page, in the user's language
        assert b"text/html" in head
        return
    assert b"application/json" in head
    assert json.loads(body)["error"]["code"] == code


@pytest.mark.parametrize("path", ["/api/v1/session", "/api/v1/events"])
def test_a_json_body_over_one_mb_gets_the_api_error(site, teacher, path):
    response = teacher.http.post(
        f"{site.url}{path}",
        data=b"[" * (2 * MIB),
        headers=teacher.headers(**{"Content-Type": "application/json"}),
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_a_chunked_body_without_length_is_capped_too(site, teacher):
    def endless() -> Iterator[bytes]:
        for _ in range(40):  # 40 MiB, never all read
            yield b"[" * MIB

    response = teacher.http.post(
        f"{site.url}/api/v1/events",
        data=endless(),
        headers=teacher.headers(**{"Content-Type": "application/json"}),
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
