"""Resumable uploads: the store (no Flask) and the tus endpoints through the test client."""

from __future__ import annotations

import base64
import io
import os

import pytest

from content_packs.models import Pack
from edge_server.base import uploads
from edge_server.base.datahome import DataHome
from edge_server.base.uploads import CHUNK_BYTES, EXPIRY_S, UploadStore
from tests.conftest import api_headers, assert_api_error
from tests.packs_factory import build_pack

TUS = {"Tus-Resumable": "1.0.0"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock) -> UploadStore:
    return UploadStore(DataHome(tmp_path / "home").ensure(), clock=clock)


def _append(store: UploadStore, upload, offset: int, data: bytes, owner: int = 1):
    return store.append(upload.id, owner, offset, io.BytesIO(data).read, len(data))


# --- the store --------------------------------------------------------------------------


def test_chunks_add_up_to_the_file(store):
    data = os.urandom(3 * 1024 * 1024 + 5)
    upload = store.create(1, "pack", len(data), {"filename": "p.zip"})
    offset = 0
    for start in range(0, len(data), 1024 * 1024):
        offset = _append(store, upload, offset, data[start : start + 1024 * 1024]).offset
    assert store.get(upload.id, 1).complete
    with store.claim(upload.id, 1, "pack", name="p.zip") as path:
        assert path.name == "p.zip" and path.read_bytes() == data
    assert not path.parent.exists()


def test_a_chunk_at_the_wrong_offset_is_a_conflict_naming_the_offset(store):
    upload = store.create(1, "pack", 100)
    _append(store, upload, 0, b"x" * 40)
    with pytest.raises(uploads.OffsetMismatch) as caught:
        _append(store, upload, 10, b"y" * 10)
    assert caught.value.details == {"offset": 40} and caught.value.status == 409
    assert store.get(upload.id, 1).offset == 40


def test_a_chunk_past_the_length_is_refused(store):
    upload = store.create(1, "pack", 10)
    with pytest.raises(uploads.ValidationError) as caught:
        _append(store, upload, 0, b"x" * 11)
    assert caught.value.code == "past_length"
    assert store.get(upload.id, 1).offset == 0


def test_bytes_left_past_the_record_by_a_crash_are_overwritten(store):
    upload = store.create(1, "pack", 20)
    _append(store, upload, 0, b"a" * 10)
    with open(store.data_path(upload), "ab") as fh:  # written, but the offset never recorded
        fh.write(b"GARBAGE")
    _append(store, upload, 10, b"b" * 10)
    with store.claim(upload.id, 1, "pack") as path:
        assert path.read_bytes() == b"a" * 10 + b"b" * 10


def test_others_cannot_see_write_claim_or_delete_an_upload(store):
    upload = store.create(1, "pack", 10)
    with pytest.raises(uploads.UploadNotFound):
        store.get(upload.id, 2)
    with pytest.raises(uploads.UploadNotFound):
        _append(store, upload, 0, b"x", owner=2)
    with pytest.raises(uploads.UploadNotFound), store.claim(upload.id, 2, "pack"):
        pass
    with pytest.raises(uploads.UploadNotFound):
        store.delete(upload.id, 2)
    assert store.get(upload.id, 1).offset == 0


def test_an_unfinished_upload_cannot_be_claimed(store):
    upload = store.create(1, "pack", 10)
    _append(store, upload, 0, b"x" * 5)
    with pytest.raises(uploads.UploadIncomplete), store.claim(upload.id, 1, "pack"):
        pass
    assert store.get(upload.id, 1).offset == 5


def test_an_upload_is_claimed_only_for_its_purpose(store):
    upload = store.create(1, "submission", 1)
    _append(store, upload, 0, b"x")
    with pytest.raises(uploads.UploadNotFound), store.claim(upload.id, 1, "pack"):
        pass


@pytest.mark.parametrize("bad", ["../../etc", "x" * 32, "", "A" * 32])
def test_malformed_ids_are_not_found(store, bad):
    with pytest.raises(uploads.UploadNotFound):
        store.get(bad, 1)


def test_abandoned_uploads_expire_and_are_swept(store, clock):
    old = store.create(1, "pack", 10)
    clock.now += EXPIRY_S - 60
    store.create(1, "pack", 10)
    _append(store, old, 0, b"x")  # activity renews the expiry
    clock.now += 120
    assert store.sweep() == 0
    clock.now += EXPIRY_S
    assert store.sweep() == 2
    assert not list(store.root.iterdir())
    with pytest.raises(uploads.UploadNotFound):
        store.get(old.id, 1)


def test_an_expired_upload_is_gone_before_the_sweep(store, clock):
    upload = store.create(1, "pack", 10)
    clock.now += EXPIRY_S + 1
    with pytest.raises(uploads.UploadNotFound):
        store.get(upload.id, 1)


def test_creating_sweeps_abandoned_uploads(store, clock):
    old = store.create(1, "pack", 10)
    clock.now += EXPIRY_S + 1
    store.create(2, "pack", 10)
    assert not (store.root / old.id).exists()


def test_one_person_has_a_bounded_number_of_open_uploads(store):
    for _ in range(uploads.MAX_OPEN_PER_OWNER):
        store.create(1, "pack", 10)
    with pytest.raises(uploads.TooManyUploads):
        store.create(1, "pack", 10)
    store.create(2, "pack", 10)


def test_an_upload_larger_than_the_free_disk_is_refused(store):
    with pytest.raises(uploads.NotEnoughSpace):
        store.create(1, "pack", 1 << 50)
    assert not store.root.exists() or not list(store.root.iterdir())


def test_a_chunk_larger_than_the_chunk_size_is_refused(store):
    upload = store.create(1, "pack", CHUNK_BYTES + 1)
    with pytest.raises(uploads.ValidationError):
        store.append(upload.id, 1, 0, io.BytesIO().read, CHUNK_BYTES + 1)


def test_a_busy_upload_refuses_a_second_writer(store):
    upload = store.create(1, "pack", 10)
    with store._locked(upload.id), pytest.raises(uploads.UploadBusy):
        _append(store, upload, 0, b"x")


def test_metadata_is_decoded():
    header = f"filename {base64.b64encode('កញ្ចប់.zip'.encode()).decode()},purpose cGFjaw==,empty"
    assert uploads.parse_metadata(header) == {
        "filename": "កញ្ចប់.zip",
        "purpose": "pack",
        "empty": "",
    }


@pytest.mark.parametrize("bad", ["filename !!!", "filename a b", "x \xff"])
def test_malformed_metadata_is_refused(bad):
    with pytest.raises(uploads.ValidationError):
        uploads.parse_metadata(bad)


# --- the tus endpoints --------------------------------------------------------------------


def _meta(purpose: str = "pack", filename: str = "pack.zip") -> str:
    return ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in (("filename", filename), ("purpose", purpose))
    )


def _create(client, length: int, purpose: str = "pack", **headers: str):
    return client.post(
        "/api/v1/uploads",
        headers={
            **api_headers(client),
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": _meta(purpose),
            **headers,
        },
    )


def _patch(client, location: str, offset: int, data: bytes, **headers: str):
    return client.patch(
        location,
        data=data,
        headers={
            **api_headers(client),
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            **headers,
        },
    )


def test_options_names_version_and_extensions(client):
    response = client.options("/api/v1/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation",
        "termination",
        "expiration",
    }


def test_instructor_uploads_a_pack_in_chunks_and_installs_it(app, client, login_as, tmp_path):
    login_as("instructor")
    data = build_pack(tmp_path).read_bytes()
    created = _create(client, len(data))
    assert created.status_code == 201
    location = created.headers["Location"]
    assert location.startswith("/api/v1/uploads/")
    assert created.headers["Tus-Resumable"] == "1.0.0" and "Upload-Expires" in created.headers
    half = len(data) // 2
    first = _patch(client, location, 0, data[:half])
    assert first.status_code == 204 and first.headers["Upload-Offset"] == str(half)
    head = client.head(location, headers=TUS)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == str(half)
    assert head.headers["Upload-Length"] == str(len(data))
    assert head.headers["Cache-Control"] == "no-store"
    assert _patch(client, location, half, data[half:]).status_code == 204
    response = client.post(
        "/api/v1/packs", json={"upload": location.rsplit("/", 1)[1]}, headers=api_headers(client)
    )
    assert response.status_code == 201, response.get_json()
    assert Pack.get().pack_id == "demo-pack"
    assert client.head(location, headers=TUS).status_code == 404
    assert not list((app.config["KRU_HOME"].tmp / "uploads").iterdir())


def test_a_bad_pack_from_an_upload_lists_its_problems_and_is_removed(app, client, login_as):
    login_as("instructor")
    location = _create(client, 9).headers["Location"]
    _patch(client, location, 0, b"not a zip")
    response = client.post(
        "/api/v1/packs", json={"upload": location.rsplit("/", 1)[1]}, headers=api_headers(client)
    )
    error = assert_api_error(response, 400, "not_a_zip")
    assert error["problems"][0]["code"] == "not_a_zip"
    assert Pack.select().count() == 0
    assert not list((app.config["KRU_HOME"].tmp / "uploads").iterdir())


def test_installing_an_unfinished_upload_is_a_conflict(client, login_as):
    login_as("instructor")
    location = _create(client, 10).headers["Location"]
    _patch(client, location, 0, b"12345")
    response = client.post(
        "/api/v1/packs", json={"upload": location.rsplit("/", 1)[1]}, headers=api_headers(client)
    )
    assert_api_error(response, 409, "upload_incomplete")
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "5"


@pytest.mark.parametrize("body", [{}, {"upload": 5}, []])
def test_installing_needs_an_upload_id(client, login_as, body):
    login_as("instructor")
    response = client.post("/api/v1/packs", json=body, headers=api_headers(client))
    assert_api_error(response, 400, "invalid_body")


def test_the_wrong_offset_gets_409_with_the_right_one(client, login_as):
    login_as("instructor")
    location = _create(client, 10).headers["Location"]
    _patch(client, location, 0, b"12345")
    error = assert_api_error(_patch(client, location, 0, b"12345"), 409, "upload_offset_mismatch")
    assert error["offset"] == 5


@pytest.fixture
def one_mb_limit(app_config):
    app_config["packs.max_upload_mb"] = 1


def test_a_pack_over_the_site_limit_is_refused_at_creation(one_mb_limit, client, login_as):
    login_as("instructor")
    error = assert_api_error(_create(client, 1024 * 1024 + 1), 413, "pack_too_large")
    assert "1 MB" in error["message"]


def test_learners_may_not_upload_packs(client, login_as):
    login_as("learner")
    assert_api_error(_create(client, 10), 403, "forbidden")


def test_an_unknown_purpose_is_refused(client, login_as):
    login_as("instructor")
    assert_api_error(_create(client, 10, purpose="movie"), 400, "unknown_purpose")


def test_signed_out_clients_get_401(client):
    assert_api_error(_create(client, 10), 401, "unauthorized")


def test_uploads_need_the_csrf_header(client, login_as):
    login_as("instructor")
    location = _create(client, 10).headers["Location"]
    response = client.patch(
        location,
        data=b"x",
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert_api_error(response, 400, "csrf_failed")
    response = client.post(
        "/api/v1/uploads", headers={**TUS, "Upload-Length": "10", "Upload-Metadata": _meta()}
    )
    assert_api_error(response, 400, "csrf_failed")


def test_another_tus_version_gets_412(client, login_as):
    login_as("instructor")
    response = _create(client, 10, **{"Tus-Resumable": "0.2.2"})
    assert_api_error(response, 412, "tus_version_unsupported")
    assert response.headers["Tus-Version"] == "1.0.0"


def test_chunks_need_the_tus_content_type(client, login_as):
    login_as("instructor")
    location = _create(client, 10).headers["Location"]
    response = _patch(client, location, 0, b"x", **{"Content-Type": "application/zip"})
    assert_api_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("length", ["", "-1", "ten", "0"])
def test_a_bad_length_is_refused(client, login_as, length):
    login_as("instructor")
    response = _create(client, 0, **{"Upload-Length": length})
    assert response.status_code == 400


def test_a_chunk_over_the_chunk_size_gets_413_before_it_is_read(client, login_as):
    login_as("instructor")
    location = _create(client, 2 * CHUNK_BYTES).headers["Location"]
    response = _patch(client, location, 0, b"\0" * (CHUNK_BYTES + 1))
    assert_api_error(response, 413, "body_too_large")
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "0"


def test_delete_cancels_an_upload(app, client, login_as):
    login_as("instructor")
    location = _create(client, 10).headers["Location"]
    _patch(client, location, 0, b"12345")
    response = client.delete(location, headers={**api_headers(client), **TUS})
    assert response.status_code == 204
    assert client.head(location, headers=TUS).status_code == 404
    assert not list((app.config["KRU_HOME"].tmp / "uploads").iterdir())


def test_another_instructor_cannot_touch_my_upload(client, app, login_as, make_user):
    login_as("instructor")
    location = _create(client, 10).headers["Location"]
    other = app.test_client()
    user = make_user(role="instructor")
    token = other.get("/api/v1/session").get_json()["csrf_token"]
    other.post(
        "/api/v1/session",
        json={"username": user.username, "password": "lotus-pond-7"},
        headers={"X-CSRFToken": token},
    )
    assert other.head(location, headers=TUS).status_code == 404
    assert_api_error(_patch(other, location, 0, b"x"), 404, "upload_not_found")
    assert client.head(location, headers=TUS).status_code == 200


def test_the_server_removes_abandoned_uploads_when_it_starts(app_config, tmp_path):
    from edge_server import create_app

    home = DataHome(tmp_path / "kru-home").ensure()
    store = UploadStore(home, clock=lambda: 1_000.0)  # long ago
    old = store.create(1, "pack", 10)
    create_app(app_config)
    assert not (store.root / old.id).exists()
