"""A learner hands in a 500 MB teaching video for a task while another learner browses.

The video goes up as the task page sends it (docs/api.md, "Submissions"): tus 1.0 chunks of
8 MiB with purpose ``submission``, then ``POST /api/v1/submissions`` naming the upload,
which checks the bytes (an MP4 header), hashes the file and moves it into the store. A
second learner opens their home page every 50 ms meanwhile: the page's p99 must stay under
the learner pages' target. The task comes in a small pack uploaded by the instructor.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from .. import client
from ..core import Bench, Scenario, Target
from ..server import RssSampler
from ..sitedata import PASSWORD
from .upload import MB, tus_upload

VIDEO_MB = 500
TASK = "bench-tasks/micro-teaching"
TASK_TOML = """type = "task"
slug = "micro-teaching"
title_km = "វីដេអូបង្រៀនខ្លី"
title_en = "Micro-teaching video"
accept = ["video"]
max_mb = 1000
instructions_km = "ថតវីដេអូបង្រៀន ១០ នាទី។"

[[rubric]]
id = "clarity"
title_km = "ភាពច្បាស់លាស់"
  [[rubric.levels]]
  id = "low"
  label_km = "ទាប"
  points = 0
  [[rubric.levels]]
  id = "high"
  label_km = "ខ្ពស់"
  points = 2
"""
PACK_TOML = """id = "bench-tasks"
version = "1.0.0"
language = "km"
license = "CC-BY-4.0"
authors = ["Kru bench"]
title_km = "កិច្ចការ"
title_en = "Tasks"

[[courses]]
slug = "practice"
title_km = "ការអនុវត្ត"
open = true

[[courses.modules]]
slug = "m1"
title_km = "ជំពូក ១"
items = ["tasks/micro-teaching.toml"]
"""


def _task_pack(workdir: Path) -> Path:
    from content_packs.build import build_pack

    src = workdir / "task-pack"
    (src / "tasks").mkdir(parents=True, exist_ok=True)
    (src / "pack.toml").write_text(PACK_TOML, encoding="utf-8")
    (src / "tasks" / "micro-teaching.toml").write_text(TASK_TOML, encoding="utf-8")
    out = workdir / "bench-tasks.zip"
    build_pack(src, out)
    return out


def _video(path: Path, megabytes: int) -> None:
    """Write an MP4-looking file: an ``ftyp`` box, then random bytes (nothing compresses)."""
    with open(path, "wb") as fh:
        fh.write(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom")
        for _ in range(megabytes):
            fh.write(os.urandom(MB))


def _browse(url: str, username: str, stop: threading.Event, times: list[float]) -> None:
    """Open the learner's home page every 50 ms until ``stop``; record each time in ms."""
    http = client.phone()
    client.sign_in(http, url, username, PASSWORD)
    while not stop.is_set():
        began = time.perf_counter()
        response = http.get(f"{url}/learn/", timeout=client.TIMEOUT)
        if response.status_code == 200:
            times.append((time.perf_counter() - began) * 1000)
        stop.wait(0.05)


def submission_upload(bench: Bench) -> dict[str, Any]:
    """Time a 500 MB submission (upload and claim); sample memory and a browsing learner."""
    megabytes = 100 if bench.quick else VIDEO_MB
    teacher = client.phone()
    token = client.sign_in(teacher, bench.url, bench.site.instructor, PASSWORD)
    pack_id = tus_upload(teacher, bench.url, token, _task_pack(bench.workdir), "pack")
    installed = teacher.post(
        f"{bench.url}/api/v1/packs",
        json={"upload": pack_id, "force": True},
        headers={"X-CSRFToken": token},
        timeout=(5, 120),
    )
    if installed.status_code not in (200, 201):
        raise RuntimeError(f"installing the task pack answered {installed.status_code}")
    video = bench.workdir / "micro-teaching.mp4"
    _video(video, megabytes)
    http = client.phone()
    token = client.sign_in(http, bench.url, bench.site.learners[-1], PASSWORD)
    times: list[float] = []
    stop = threading.Event()
    browser = threading.Thread(
        target=_browse, args=(bench.url, bench.site.learners[0], stop, times), daemon=True
    )
    with RssSampler(bench.server.pid) as sampler:
        browser.start()
        began = time.perf_counter()
        upload_id = tus_upload(http, bench.url, token, video, "submission")
        uploaded = time.perf_counter()
        response = http.post(
            f"{bench.url}/api/v1/submissions",
            json={"item": TASK, "uploads": [upload_id]},
            headers={"X-CSRFToken": token},
            timeout=(5, 600),
        )
        done = time.perf_counter()
        stop.set()
        browser.join()
    video.unlink()
    if response.status_code not in (200, 201):
        raise RuntimeError(f"submitting answered {response.status_code}: {response.text[:200]}")
    times.sort()
    size_mb = megabytes
    return {
        "video_mb": size_mb,
        "upload_s": round(uploaded - began, 2),
        "claim_s": round(done - uploaded, 2),
        "upload_mb_per_s": round(size_mb / max(uploaded - began, 1e-6), 1),
        "rss_growth_mb": round(sampler.growth / MB, 1),
        "peak_rss_mb": round(sampler.peak / MB, 1),
        "page_requests": len(times),
        "page_p99_ms": round(times[int(len(times) * 0.99) - 1], 1) if times else None,
    }


SUBMISSION_UPLOAD = Scenario(
    "submission_upload",
    "A learner hands in a 500 MB video in resumable chunks while another learner browses",
    submission_upload,
    (
        Target("500 MB submission: server RSS growth (MB)", "rss_growth_mb", "<=", 20, "MB"),
        Target("Learner page p99 during it (ms)", "page_p99_ms", "<=", 300, "ms"),
    ),
)
