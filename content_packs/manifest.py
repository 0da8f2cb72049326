"""The manifest of a pack: its JSON Schema, the checks beyond the schema, versions, bytes.

A manifest carries ``format_version``; this module reads format 1. Paths in a manifest are
relative to the zip root with forward slashes; every file but ``manifest.json`` and
``manifest.sig`` is listed in ``files`` with its size and sha256.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from edge_server.base import jsonlimits
from edge_server.base.errors import N_

from .errors import Problem

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
FORMAT_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
RESERVED = {MANIFEST, SIGNATURE}

# Which file endings each item type accepts, and the MIME type each ending is served with.
# No "; charset=" here: Werkzeug adds "; charset=utf-8" to every text type it sends, and a
# type that carried its own was sent with the charset twice (issue 12).
MIME_TYPES = {
    ".md": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".vtt": "text/vtt",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".wav": "audio/wav",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".zip": "application/zip",
    ".txt": "text/plain",
    ".css": "text/css",
    ".js": "text/javascript",
    ".json": "application/json",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
}
TYPE_ENDINGS = {
    "video": {".mp4", ".m4v", ".webm"},
    "audio": {".mp3", ".m4a", ".ogg", ".oga", ".opus", ".wav"},
    "pdf": {".pdf"},
    "image": {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"},
    "html5": {".zip"},
}
LESSON_ENDINGS = {"markdown": {".md"}, "html": {".html", ".htm"}}
POSTER_ENDINGS = TYPE_ENDINGS["image"] - {".svg"}

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-.]+)?$"
)


def mime_for(path: str) -> str:
    """Return the MIME type a pack file is served with, from its ending."""
    return MIME_TYPES.get(PurePosixPath(path).suffix.lower(), "application/octet-stream")


@cache
def schema() -> dict[str, Any]:
    """Return the JSON Schema of manifest format 1."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def canonical_bytes(manifest: dict[str, Any]) -> bytes:
    """Return the bytes a signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def semver_key(version: str) -> tuple:
    """Return a sort key for a semantic version (prereleases sort before the release).

    Raises:
        ValueError: ``version`` is not a semantic version.
    """
    match = _SEMVER.match(version)
    if not match:
        raise ValueError(f"not a semantic version: {version!r}")
    core = tuple(int(part) for part in match.group(1, 2, 3))
    pre = match.group(4)
    if pre is None:
        return (*core, 1, ())
    idents = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (*core, 0, idents)


def schema_problems(manifest: Any) -> list[Problem]:
    """Return, in plain words, the places where ``manifest`` breaks the JSON Schema (<= 20)."""
    from jsonschema import Draft202012Validator  # imported here: 50 ms of server start-up

    from .schema_messages import problems_for

    validator = Draft202012Validator(schema())
    schema_json = SCHEMA_PATH.read_text(encoding="utf-8")
    problems: list[Problem] = []
    errors = sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.path])
    for error in errors:
        for problem in problems_for(error, manifest, schema_json):
            if problem not in problems:
                problems.append(problem)
    return problems[:20]


def iter_items(manifest: dict[str, Any]) -> Iterator[tuple[dict, dict, dict]]:
    """Yield (course, module, item) in order."""
    for course in manifest["courses"]:
        for module in course["modules"]:
            for item in module["items"]:
                yield course, module, item


def item_file_refs(item: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (role, path) of every pack file an item names: file, captions, poster, entry."""
    refs = []
    if item.get("file"):
        refs.append(("file", item["file"]))
    for caption in item.get("captions") or []:
        refs.append(("captions", caption["file"]))
    if item.get("poster"):
        refs.append(("poster", item["poster"]))
    return refs


def _dupes(values: list[str]) -> list[str]:
    seen: set[str] = set()
    dupes = []
    for value in values:
        if value in seen and value not in dupes:
            dupes.append(value)
        seen.add(value)
    return dupes


def _ending(path: str) -> str:
    return PurePosixPath(path).suffix.lower()


def semantic_problems(manifest: dict[str, Any]) -> list[Problem]:
    """Return what the schema cannot say: unique slugs, known files, endings, quiz answers."""
    problems: list[Problem] = []

    def add(code: str, template: str, **params: Any) -> None:
        problems.append(Problem(code, template, MANIFEST, params))

    listed = [f["path"] for f in manifest["files"]]
    for path in _dupes(listed):
        add("manifest_duplicate", N_("the file %(path)s is listed twice"), path=path)
    for path in listed:
        if path in RESERVED:
            add("manifest_reserved", N_("%(path)s must not be listed in files"), path=path)
    known = set(listed)
    for kind, values in (
        ("course", [c["slug"] for c in manifest["courses"]]),
        ("module", [m["slug"] for c in manifest["courses"] for m in c["modules"]]),
        ("item", [i["slug"] for _c, _m, i in iter_items(manifest)]),
    ):
        for slug in _dupes(values):
            add(
                "manifest_duplicate",
                N_("the %(kind)s slug %(slug)s is used twice"),
                kind=kind,
                slug=slug,
            )
    for _course, _module, item in iter_items(manifest):
        slug = item["slug"]
        for _role, path in item_file_refs(item):
            if path not in known:
                add(
                    "manifest_unknown_file",
                    N_("item %(slug)s names %(path)s, which is not in the files list"),
                    slug=slug,
                    path=path,
                )
        kind = item["type"]
        allowed = (
            LESSON_ENDINGS.get(item.get("format", ""), set())
            if kind == "lesson"
            else TYPE_ENDINGS.get(kind)
        )
        if allowed and item.get("file") and _ending(item["file"]) not in allowed:
            add(
                "manifest_bad_file_type",
                N_("item %(slug)s: %(path)s is not a kind of file a %(type)s item can use"),
                slug=slug,
                path=item["file"],
                type=kind,
            )
        for caption in item.get("captions") or []:
            if _ending(caption["file"]) != ".vtt":
                add(
                    "manifest_bad_file_type",
                    N_("item %(slug)s: captions must be WebVTT (.vtt), not %(path)s"),
                    slug=slug,
                    path=caption["file"],
                )
        if item.get("poster") and _ending(item["poster"]) not in POSTER_ENDINGS:
            add(
                "manifest_bad_file_type",
                N_("item %(slug)s: the poster %(path)s must be a PNG, JPEG, GIF or WebP image"),
                slug=slug,
                path=item["poster"],
            )
        if kind == "quiz":
            problems += _quiz_problems(slug, item["quiz"])
        if kind == "task":
            problems += _task_problems(slug, item["task"])
        if kind == "observation":
            problems += _task_problems(slug, item["observation"])
    from .frameworks import manifest_problems  # issue 16: frameworks and the codes items name

    problems += manifest_problems(manifest)
    return problems


def _task_problems(slug: str, task: dict[str, Any]) -> list[Problem]:
    """Return what the schema cannot say of a task's rubric: unique ids, points to earn."""
    problems: list[Problem] = []

    def add(what: str) -> None:
        problems.append(
            Problem(
                "task_invalid",
                N_("task %(slug)s: the rubric is wrong (%(what)s)"),
                MANIFEST,
                {"slug": slug, "what": what},
            )
        )

    criteria = task["rubric"]
    for cid in _dupes([c["id"] for c in criteria]):
        add(f"criterion {cid} twice")
    for criterion in criteria:
        for lid in _dupes([level["id"] for level in criterion["levels"]]):
            add(f"level {lid} twice in {criterion['id']}")
    if sum(max(level["points"] for level in c["levels"]) for c in criteria) <= 0:
        add("no points to earn")
    return problems


def _quiz_problems(slug: str, quiz: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for qid in _dupes([q["id"] for q in quiz["questions"]]):
        problems.append(
            Problem(
                "quiz_invalid",
                N_("quiz %(slug)s: the question id %(id)s is used twice"),
                MANIFEST,
                {"slug": slug, "id": qid},
            )
        )
    for question in quiz["questions"]:
        if question["type"] in ("matching", "ordering"):
            ids = [c["id"] for c in question.get("pairs", question.get("choices", []))]
            if dupes := _dupes(ids):
                problems.append(
                    Problem(
                        "quiz_invalid",
                        N_("quiz %(slug)s, question %(id)s: the ids %(what)s are used twice"),
                        MANIFEST,
                        {"slug": slug, "id": question["id"], "what": ", ".join(dupes)},
                    )
                )
            continue
        if question["type"] not in ("single", "multiple"):
            continue
        ids = [c["id"] for c in question.get("choices", [])]
        answers = question["answer"] if question["type"] == "multiple" else [question["answer"]]
        wrong = [a for a in answers if a not in ids] + _dupes(ids)
        if wrong:
            problems.append(
                Problem(
                    "quiz_invalid",
                    N_(
                        "quiz %(slug)s, question %(id)s: the answer or choices are wrong (%(what)s)"
                    ),
                    MANIFEST,
                    {"slug": slug, "id": question["id"], "what": ", ".join(map(str, wrong))},
                )
            )
    return problems


def parse_manifest(data: bytes) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Return the manifest parsed from ``data`` and the problems found in it."""
    try:
        manifest = jsonlimits.loads(data.decode("utf-8"))
    except ValueError as exc:  # not UTF-8, not JSON, or nested too deep
        return None, [
            Problem(
                "manifest_malformed",
                N_("is not valid JSON: %(problem)s"),
                MANIFEST,
                {"problem": str(exc)[:200]},
            )
        ]
    if not isinstance(manifest, dict):
        return None, [Problem("manifest_malformed", N_("must be a JSON object"), MANIFEST)]
    if manifest.get("format_version") not in (None, FORMAT_VERSION) and isinstance(
        manifest.get("format_version"), int
    ):
        return None, [
            Problem(
                "manifest_format_unsupported",
                N_("format_version %(version)s is not supported; update Kru"),
                MANIFEST,
                {"version": manifest["format_version"]},
            )
        ]
    problems = schema_problems(manifest)
    if problems:
        return None, problems
    problems = semantic_problems(manifest)
    return (None if problems else manifest), problems
