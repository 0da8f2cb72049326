"""Page weight and caching, video streaming with Range, and Khmer search."""

from __future__ import annotations

import random
import re
import statistics
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from .. import client
from ..core import Bench, NotAvailable, Scenario, Target
from ..load import run_wrk, write_sessions
from ..server import RssSampler
from ..sitedata import KHMER_WORDS

KB = 1024
MB = 1024 * 1024
YEAR_OK_S = 7 * 86400  # a max-age this long means a repeat visit does not ask again
VIDEO_CLIENTS = 40
VIDEO_CHUNK = 1 * MB


class _Assets(HTMLParser):
    """Collect what a browser fetches for a page: stylesheets, scripts, images, the font."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.fonts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "link" and "stylesheet" in a.get("rel", "") and a.get("href"):
            self.assets.append(a["href"])
        elif tag == "link" and a.get("as") == "font" and a.get("href"):
            self.fonts.append(a["href"])
        elif tag in ("script", "img") and a.get("src"):
            self.assets.append(a["src"])


def _is_media(path: str) -> bool:
    return urlsplit(path).path.startswith("/c/")


def _wire_bytes(response: requests.Response) -> int:
    """Return the bytes of a response as sent: status line, headers and (encoded) body."""
    body = response.raw.read(decode_content=False)
    head = 17 + sum(len(k) + len(v) + 4 for k, v in response.headers.items()) + 2
    return head + len(body)


def _cached_for(response: requests.Response) -> int:
    match = re.search(r"max-age=(\d+)", response.headers.get("Cache-Control", ""))
    return int(match.group(1)) if match else 0


def _fetch(http: requests.Session, url: str) -> tuple[requests.Response, int]:
    response = http.get(
        url, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=client.TIMEOUT
    )
    size = _wire_bytes(response)
    response.close()
    return response, size


def _weigh(http: requests.Session, base: str, path: str) -> dict[str, Any]:
    """Return first-load and repeat-load bytes of ``path`` (media and the font excluded)."""
    page, page_bytes = _fetch(http, base + path)
    if page.status_code != 200:
        raise RuntimeError(f"{path} answered {page.status_code}")
    html = http.get(base + path, timeout=client.TIMEOUT).text
    parser = _Assets()
    parser.feed(html)
    first = repeat = page_bytes
    uncached: list[str] = []
    queue = [urljoin(path, a) for a in parser.assets if not _is_media(a)]
    seen: set[str] = set()
    while queue:
        asset = queue.pop(0)
        if asset in seen:
            continue
        seen.add(asset)
        response, size = _fetch(http, base + asset)
        first += size
        if _cached_for(response) < YEAR_OK_S:
            repeat += size
            uncached.append(asset)
        if asset.endswith(".css"):
            css = http.get(base + asset, timeout=client.TIMEOUT).text
            for ref in re.findall(r"url\(['\"]?([^'\")]+)", css):
                if not ref.startswith("data:") and not re.search(r"\.(woff2?|ttf)$", ref):
                    queue.append(urljoin(asset, ref))
    return {
        "first_kb": round(first / KB, 1),
        "repeat_kb": round(repeat / KB, 1),
        "html_kb": round(page_bytes / KB, 1),
        "assets": len(seen),
        "uncached": uncached,
        "fonts": parser.fonts,
    }


def page_weight(bench: Bench) -> dict[str, Any]:
    if not bench.sessions:
        raise RuntimeError("no signed-in learners (the login storm failed)")
    pack, _, slug = bench.site.lesson_keys[3].partition("/")
    with client.phone() as http:
        http.headers["Cookie"] = bench.sessions[-1][0]
        home = _weigh(http, bench.url, "/learn/")
        lesson = _weigh(http, bench.url, f"/learn/items/{pack}/{slug}")
        font_kb = None
        font_cache_s = None
        for font in home["fonts"] or lesson["fonts"]:
            response, size = _fetch(http, bench.url + font)
            font_kb = round(size / KB, 1)
            font_cache_s = _cached_for(response)
    return {
        "home_first_kb": home["first_kb"],
        "home_repeat_kb": home["repeat_kb"],
        "lesson_first_kb": lesson["first_kb"],
        "lesson_repeat_kb": lesson["repeat_kb"],
        "lesson_html_kb": lesson["html_kb"],
        "uncached_assets": sorted(set(home["uncached"]) | set(lesson["uncached"])),
        "font_kb": font_kb,
        "font_max_age_s": font_cache_s,
    }


def video(bench: Bench) -> dict[str, Any]:
    sha = bench.site.video_sha256
    if not sha:
        raise NotAvailable("the benchmark video was not installed")
    path = f"/c/{sha}/video.webm"
    if not bench.sessions:
        raise RuntimeError("no signed-in learners (the login storm failed)")
    probe = requests.get(
        bench.url + path,
        headers={"Range": "bytes=0-99", "Cookie": bench.sessions[0][0]},
        timeout=client.TIMEOUT,
        stream=True,
        allow_redirects=False,
    )
    probe.close()
    if probe.status_code == 404:
        raise NotAvailable(f"content is not served at /c/<sha256> ({path} answers 404)")
    if probe.status_code != 206:
        raise RuntimeError(f"a Range request answered {probe.status_code}, not 206")
    sessions = write_sessions(bench.workdir / "sessions.tsv", bench.sessions)
    with RssSampler(bench.server.pid) as sampler:
        result = run_wrk(
            bench.url,
            "video",
            [str(sessions), path, str(bench.site.video_bytes), str(VIDEO_CHUNK)],
            connections=VIDEO_CLIENTS,
            duration_s=bench.durations.load_s,
        )
    return {
        "clients": VIDEO_CLIENTS,
        "file_mb": round(bench.site.video_bytes / MB, 1),
        "chunk_kb": VIDEO_CHUNK // KB,
        "mb_per_s": round(result.bytes / MB / result.duration_s, 1),
        "rss_growth_mb": round(sampler.growth / MB, 1),
        "peak_rss_mb": round(sampler.peak / MB, 1),
        **result.figures(),
    }


def search(bench: Bench) -> dict[str, Any]:
    """Time Kru's search function on the site database, as the search page calls it."""
    try:
        from content_packs import search as pack_search
    except ImportError as exc:
        raise NotAvailable("content_packs.search is not there") from exc
    from edge_server.base.datahome import DataHome
    from edge_server.site import database as schema

    rng = random.Random(9)
    queries = [rng.choice(KHMER_WORDS) for _ in range(20)]
    queries += [f"{rng.choice(KHMER_WORDS)} {rng.choice(KHMER_WORDS)}" for _ in range(10)]
    queries += ["ការអាន", "teacher", "គ្រូ"]
    database = schema.open_database(DataHome(bench.site.data_dir))
    times: list[float] = []
    hits = 0
    try:
        database.connect(reuse_if_open=True)
        pack_search.search(queries[0], "km")  # warm the page cache, as a running site has
        for query in queries:
            began = time.perf_counter()
            found = pack_search.search(query, "km", limit=20)
            times.append((time.perf_counter() - began) * 1000)
            hits += len(found)
    finally:
        database.close()
    times.sort()
    return {
        "queries": len(queries),
        "lessons_indexed": bench.site.search_lessons,
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
        "max_ms": round(times[-1], 2),
        "hits": hits,
    }


PAGE_WEIGHT = Scenario(
    "page_weight",
    "Page weight over the wire (no media, no font) and cache headers",
    page_weight,
    (
        Target("Learner home, first load (KB)", "home_first_kb", "<=", 30, "KB"),
        Target("Learner home, repeat load (KB)", "home_repeat_kb", "<=", 5, "KB"),
        Target("Lesson page, first load (KB)", "lesson_first_kb", "<=", 30, "KB"),
        Target("Lesson page, repeat load (KB)", "lesson_repeat_kb", "<=", 5, "KB"),
        Target("Khmer font (KB)", "font_kb", "<=", 150, "KB"),
    ),
)

VIDEO = Scenario(
    "video",
    "40 clients stream a 50 MB video with Range requests",
    video,
    (
        Target("Video, 40 clients (MB/s total)", "mb_per_s", ">=", 200, "MB/s"),
        Target("Video: server RSS growth (MB)", "rss_growth_mb", "<=", 20, "MB"),
    ),
)

SEARCH = Scenario(
    "search",
    "Khmer search over the packs plus 500 generated lessons",
    search,
    (Target("Khmer search, slowest query (ms)", "max_ms", "<=", 50, "ms"),),
)
