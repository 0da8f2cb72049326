"""Video with captions in the editor's API, on a real server (issue 17, item 1).

A real H.264 video of tens of MB, made with ffmpeg at run time, goes up as a resumable
upload (tus, the same protocol as packs), is claimed by the draft, gets WebVTT captions,
is published as a signed pack, and ``kru pack export`` then ``kru pack build`` rebuild the
published zip byte for byte (issue 17, "Done when").
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from content_packs.build import build_pack
from tests.livesite import KRU, LiveSite
from tests.upload_support import MIB, TIMEOUT, Client

ENV = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", "KRU_LOG_LEVEL": "WARNING"}
VTT = (
    "WEBVTT\n\n00:00:00.000 --> 00:00:03.000\nសួស្តី សិស្សទាំងអស់គ្នា\n\n"
    "00:00:03.000 --> 00:00:06.000\nថ្ងៃនេះយើងអានរឿង\n"
)


def _kru(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KRU, "--data-dir", str(home), *args],
        check=True,
        timeout=300,
        env=ENV,
        capture_output=True,
        text=True,
    )


def make_video(path: Path, seconds: int = 6) -> Path:
    """Write a real H.264/AAC MP4 of noise (noise does not compress: about 35 MB)."""
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", "color=c=gray:s=640x360:r=25,noise=alls=60:allf=t",
            "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart",
            str(path),
        ],
        check=True,
        timeout=300,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    home = tmp_path_factory.mktemp("authoring-media") / "home"
    _kru(home, "user", "add", "dara", "--role", "instructor", "--password", "lotus-pond-7")
    with LiveSite(home, ["--workers", "2"]) as live:
        yield live


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("video") / "ការអានឮៗ.mp4")


def _api(client: Client, method: str, path: str, **kwargs):
    return client.http.request(
        method, client.url + path, headers=client.headers(), timeout=TIMEOUT, **kwargs
    )


def _send(client: Client, path: Path) -> str:
    """Upload ``path`` for a draft (purpose ``authoring_media``); return the upload id."""
    created = client.tus_create(path.stat().st_size, path.name, purpose="authoring_media")
    assert created.status_code == 201, created.text
    location = client.url + created.headers["Location"]
    return client.tus_upload(path, location=location).rstrip("/").rsplit("/", 1)[1]


def test_a_video_with_captions_is_published_and_exports_byte_for_byte(site, video, tmp_path):
    assert video.stat().st_size > 20 * MIB
    client = Client.sign_in(site.url, "dara", "lotus-pond-7")
    draft = _api(client, "POST", "/api/v1/authoring/courses", json={"title": {"km": "វីដេអូ"}})
    draft_id = draft.json()["id"]
    base = f"/api/v1/authoring/courses/{draft_id}"

    clip = _api(client, "POST", f"{base}/media", json={"upload": _send(client, video)})
    assert clip.status_code == 201, clip.text
    assert clip.json()["size"] == video.stat().st_size
    assert clip.json()["sha256"] == hashlib.sha256(video.read_bytes()).hexdigest()
    assert clip.json()["path"].endswith(".mp4")

    (tmp_path / "km.vtt").write_text(VTT, encoding="utf-8")
    captions = _api(
        client, "POST", f"{base}/media", json={"upload": _send(client, tmp_path / "km.vtt")}
    )
    assert captions.status_code == 201, captions.text
    item = _api(
        client,
        "POST",
        f"{base}/items",
        json={
            "type": "video",
            "title": {"km": "វីដេអូថ្នាក់រៀន", "en": "Classroom video"},
            "file": clip.json()["path"],
            "captions": [{"lang": "km", "label": "ខ្មែរ", "file": captions.json()["path"]}],
        },
    )
    assert item.status_code == 201, item.text

    # The editor plays the draft's video from the content store, by ranges.
    played = client.http.get(
        site.url + clip.json()["url"], headers={"Range": "bytes=0-1023"}, timeout=TIMEOUT
    )
    assert played.status_code == 206 and played.content == video.read_bytes()[:1024]

    published = _api(client, "POST", f"{base}/publish")
    assert published.status_code == 201, published.text
    pack = published.json()["pack"]
    assert pack["signed"] and pack["version"].startswith("1.0.0+")

    with client.http.get(
        f"{site.url}/api/v1/packs/{pack['id']}/download", timeout=TIMEOUT, stream=True
    ) as response:
        assert response.status_code == 200
        with open(tmp_path / "published.zip", "wb") as fh:
            for block in response.iter_content(MIB):
                fh.write(block)
    with zipfile.ZipFile(tmp_path / "published.zip") as zf:
        names = set(zf.namelist())
        assert clip.json()["path"] in names and captions.json()["path"] in names
        assert zf.read(clip.json()["path"]) == video.read_bytes()

    _kru(site.data_dir, "pack", "export", pack["id"], "-o", str(tmp_path / "src"))
    build_pack(tmp_path / "src", tmp_path / "rebuilt.zip")
    assert _entries(tmp_path / "rebuilt.zip") == _entries(tmp_path / "published.zip")


def _entries(path: Path) -> dict[str, str]:
    """Return each entry's sha256, the signature left out (whoever signs makes it anew)."""
    with zipfile.ZipFile(path) as zf:
        return {
            name: hashlib.sha256(zf.read(name)).hexdigest()
            for name in zf.namelist()
            if name != "manifest.sig"
        }


def test_an_upload_made_for_packs_is_not_taken_as_media(site, tmp_path):
    client = Client.sign_in(site.url, "dara", "lotus-pond-7")
    draft_id = _api(
        client, "POST", "/api/v1/authoring/courses", json={"title": {"km": "ក"}}
    ).json()["id"]
    (tmp_path / "x.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(MIB))
    created = client.tus_create(MIB + 9, "x.pdf", purpose="pack")
    location = client.url + created.headers["Location"]
    upload_id = client.tus_upload(tmp_path / "x.pdf", location=location).rsplit("/", 1)[1]
    answer = _api(
        client, "POST", f"/api/v1/authoring/courses/{draft_id}/media", json={"upload": upload_id}
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "upload_not_found"
