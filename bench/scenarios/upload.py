"""An instructor uploads a 50 MB pack through the resumable upload API and installs it.

The client does what the upload page does (docs/api.md, "Resumable uploads"): tus 1.0
chunks of 8 MiB, then ``POST /api/v1/packs`` naming the finished upload. The pack is 50 MB
of random bytes, so nothing compresses and every byte is hashed, stored and copied.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any

import requests

from .. import client
from ..core import Bench, Scenario, Target
from ..server import RssSampler
from ..sitedata import PASSWORD

MB = 1024 * 1024
PACK_MB = 50
CHUNK = 8 * MB
TUS = {"Tus-Resumable": "1.0.0"}


def _build(workdir: Path, megabytes: int) -> Path:
    """Build a pack with one PDF item of ``megabytes`` MB of random bytes."""
    import tomli_w

    from content_packs.build import build_pack

    src = workdir / "upload-pack"
    (src / "media").mkdir(parents=True, exist_ok=True)
    (src / "media" / "handout.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(megabytes * MB))
    spec = {
        "id": "bench-upload",
        "version": "1.0.0",
        "title_km": "កញ្ចប់ធំ",
        "title_en": "Big pack",
        "description_km": "កញ្ចប់សម្រាប់វាស់ល្បឿនផ្ទុកឡើង",
        "language": "km",
        "license": "CC-BY-4.0",
        "authors": ["Kru bench"],
        "courses": [
            {
                "slug": "big",
                "title_km": "វគ្គធំ",
                "title_en": "Big course",
                "modules": [
                    {
                        "slug": "m1",
                        "title_km": "ជំពូក ១",
                        "title_en": "Part 1",
                        "items": [
                            {"file": "media/handout.pdf", "slug": "handout", "title_km": "ឯកសារ"}
                        ],
                    }
                ],
            }
        ],
    }
    (src / "pack.toml").write_text(tomli_w.dumps(spec), encoding="utf-8")
    out = workdir / "bench-upload.zip"
    build_pack(src, out)
    return out


def tus_upload(
    http: requests.Session, url: str, token: str, path: Path, purpose: str = "pack"
) -> str:
    """Send ``path`` in tus chunks for ``purpose`` (pack, submission); return the upload id."""
    size = path.stat().st_size
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in (("purpose", purpose), ("filename", path.name))
    )
    created = http.post(
        f"{url}/api/v1/uploads",
        headers={"X-CSRFToken": token, **TUS, "Upload-Length": str(size), "Upload-Metadata": meta},
        timeout=client.TIMEOUT,
    )
    if created.status_code != 201:
        raise RuntimeError(f"creating the upload answered {created.status_code}")
    location = url + created.headers["Location"]
    offset = 0
    with open(path, "rb") as fh:
        while offset < size:
            response = http.patch(
                location,
                data=fh.read(CHUNK),
                headers={
                    "X-CSRFToken": token,
                    **TUS,
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                },
                timeout=client.TIMEOUT,
            )
            if response.status_code != 204:
                raise RuntimeError(f"a chunk answered {response.status_code}")
            offset = int(response.headers["Upload-Offset"])
    return location.rsplit("/", 1)[1]


def pack_upload(bench: Bench) -> dict[str, Any]:
    """Time the upload and the install of a 50 MB pack; sample the server's memory."""
    megabytes = 20 if bench.quick else PACK_MB
    pack = _build(bench.workdir, megabytes)
    http = client.phone()
    token = client.sign_in(http, bench.url, bench.site.instructor, PASSWORD)
    with RssSampler(bench.server.pid) as sampler:
        began = time.perf_counter()
        upload_id = tus_upload(http, bench.url, token, pack)
        uploaded = time.perf_counter()
        response = http.post(
            f"{bench.url}/api/v1/packs",
            json={"upload": upload_id, "force": True},
            headers={"X-CSRFToken": token},
            timeout=(5, 600),
        )
        done = time.perf_counter()
    if response.status_code not in (200, 201):
        raise RuntimeError(f"installing the upload answered {response.status_code}")
    size_mb = pack.stat().st_size / MB
    return {
        "pack_mb": round(size_mb, 1),
        "chunk_mb": CHUNK // MB,
        "upload_s": round(uploaded - began, 2),
        "install_s": round(done - uploaded, 2),
        "total_s": round(done - began, 2),
        "upload_mb_per_s": round(size_mb / max(uploaded - began, 1e-6), 1),
        "rss_growth_mb": round(sampler.growth / MB, 1),
        "peak_rss_mb": round(sampler.peak / MB, 1),
    }


PACK_UPLOAD = Scenario(
    "pack_upload",
    "An instructor uploads a 50 MB pack in resumable 8 MiB chunks and installs it",
    pack_upload,
    (
        Target("50 MB pack: upload and install (s)", "total_s", "<=", 30, "s"),
        Target("Pack upload: server RSS growth (MB)", "rss_growth_mb", "<=", 30, "MB"),
    ),
)
