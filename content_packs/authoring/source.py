"""Write a pack's source folder: what ``kru pack build`` turns back into the same pack.

One writer for both uses: ``kru pack export`` (a pack zip or an installed pack) and
publishing a draft (the draft becomes a manifest, then a folder, then ``build_pack``).
For a pack made by ``kru pack build`` the rebuilt ``manifest.json`` and every file are
byte for byte the same; a pack whose manifest the build could not have written (empty
titles, ``x-`` keys, ``.toml`` files, CR line ends in a lesson) is refused, not altered.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import tomli_w

from edge_server.base.datahome import DataHome
from edge_server.base.errors import N_

from ..build import FRONT_MATTER
from ..errors import BadSource, PackNotFound
from ..manifest import MANIFEST, iter_items

# Writes the pack file ``path`` to the given destination file.
FileWriter = Callable[[str, Path], None]


class NotExportable(BadSource):
    code = "pack_not_exportable"


def _refuse(template: str, **params: Any) -> NotExportable:
    return NotExportable(template, **params)


def _title_keys(item: dict[str, Any]) -> dict[str, str]:
    out = {}
    for lang, text in item["title"].items():
        if not text:
            raise _refuse(N_("item %(slug)s has an empty title"), slug=item["slug"])
        out[f"title_{lang}"] = text
    return out


def _entry(item: dict[str, Any], quiz_file: str | None) -> dict[str, Any]:
    """Return the pack.toml entry of one manifest item."""
    entry: dict[str, Any] = {"file": quiz_file or item["file"], "type": item["type"]}
    entry["slug"] = item["slug"]
    entry.update(_title_keys(item))
    for name in ("required", "duration_s", "competencies"):
        if name in item:
            entry[name] = item[name]
    if item["type"] == "video":
        entry["captions"] = item.get("captions") or []
        if item.get("poster"):
            entry["poster"] = item["poster"]
    if item["type"] == "image" and item.get("alt"):
        entry["alt"] = item["alt"]
    if item["type"] == "html5":
        entry["entry"] = item.get("entry", "index.html")
    return entry


def _quiz_toml(quiz: dict[str, Any]) -> str:
    head = {k: quiz[k] for k in ("pass_mark", "attempts", "shuffle") if quiz.get(k) is not None}
    return tomli_w.dumps({**head, "questions": quiz["questions"]})


def _lesson_text(body: bytes, path: str) -> bytes:
    """Return the lesson file that builds back into exactly ``body``.

    Raises:
        NotExportable: the build would change the text (CR line ends, a BOM, ...).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(N_("the lesson %(file)s is not UTF-8 text"), file=path) from exc
    if "\r" in text or text.startswith("\ufeff"):
        raise _refuse(N_("the lesson %(file)s has CR line ends or a byte order mark"), file=path)
    if text.startswith((FRONT_MATTER + "\n", "---\n")):
        return f"{FRONT_MATTER}\n{FRONT_MATTER}\n".encode() + body  # an empty front matter
    return body


def _check_paths(manifest: dict[str, Any]) -> None:
    extra = sorted(k for k in manifest if k.startswith("x-"))
    if extra:
        raise _refuse(
            N_("the manifest has fields the build cannot write: %(keys)s"), keys=", ".join(extra)
        )
    for f in manifest["files"]:
        parts = PurePosixPath(f["path"]).parts
        if f["path"].endswith(".toml") or any(p.startswith(".") for p in parts):
            raise _refuse(N_("the file %(file)s cannot be kept in a source folder"), file=f["path"])


def _flat_texts(raw: Any) -> Any:
    """Return a framework with each ``title``/``description`` object as ``_km``/``_en`` keys,
    as its .toml file says them (the build reads them back into the same objects)."""
    if isinstance(raw, list):
        return [_flat_texts(v) for v in raw]
    if not isinstance(raw, dict):
        return raw
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("title", "description") and isinstance(value, dict):
            out.update({f"{key}_{lang}": text for lang, text in value.items()})
        else:
            out[key] = _flat_texts(value)
    return out


def framework_files(manifest: dict[str, Any]) -> dict[str, str]:
    """Return the .toml file of each competency framework of ``manifest`` by its path."""
    return {
        f"frameworks/{fw['id']}.toml": tomli_w.dumps(_flat_texts(fw))
        for fw in manifest.get("frameworks") or []
    }


def pack_toml(manifest: dict[str, Any], quiz_files: dict[str, str]) -> str:
    """Return pack.toml for ``manifest``; ``quiz_files`` maps quiz slugs to their file."""
    head: dict[str, Any] = {"id": manifest["id"], "version": manifest["version"]}
    for name in ("language", "license", "authors"):
        if name in manifest:
            head[name] = manifest[name]
    if manifest.get("frameworks"):  # issue 16: the build inlines these files again
        head["frameworks"] = list(framework_files(manifest))
    head["title"] = manifest["title"]
    if manifest.get("description"):
        head["description"] = manifest["description"]
    courses = []
    for course in manifest["courses"]:
        fields = {"slug": course["slug"], "title": course["title"]}
        if course.get("description"):
            fields["description"] = course["description"]
        fields["open"] = bool(course.get("open", False))
        # Issue 16's course rules, board and session plan: the build reads them back as written.
        for part in ("completion", "certificate", "discussion", "sessions"):
            if course.get(part):
                fields[part] = course[part]
        fields["modules"] = [
            {
                "slug": module["slug"],
                "title": module["title"],
                "items": [_entry(i, quiz_files.get(i["slug"])) for i in module["items"]],
            }
            for module in course["modules"]
        ]
        courses.append(fields)
    text = "# Written by kru pack export; build it with: kru pack build DIR -o PACK.zip\n"
    return text + tomli_w.dumps({**head, "courses": courses})


def write_source(manifest: dict[str, Any], write_file: FileWriter, out_dir: Path) -> Path:
    """Write the source folder of ``manifest`` into the new or empty folder ``out_dir``.

    Raises:
        NotExportable: the pack has something the build could not make again.
        BadSource: ``out_dir`` exists and is not empty.
    """
    _check_paths(manifest)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadSource(N_("%(file)s exists and is not an empty folder"), file=str(out))
    out.mkdir(parents=True, exist_ok=True)
    lessons = {i["file"] for _c, _m, i in iter_items(manifest) if i["type"] == "lesson"}
    for f in manifest["files"]:
        dest = out / f["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_file(f["path"], dest)
        if f["path"] in lessons:
            dest.write_bytes(_lesson_text(dest.read_bytes(), f["path"]))
    quiz_files: dict[str, str] = {}
    for _course, _module, item in iter_items(manifest):
        if item["type"] == "quiz":
            rel = f"quizzes/{item['slug']}.toml"
            quiz_files[item["slug"]] = rel
            (out / "quizzes").mkdir(exist_ok=True)
            (out / rel).write_text(_quiz_toml(item["quiz"]), encoding="utf-8")
        elif item["type"] == "task":
            rel = f"tasks/{item['slug']}.toml"
            quiz_files[item["slug"]] = rel
            (out / "tasks").mkdir(exist_ok=True)
            (out / rel).write_text(_task_toml(item["task"]), encoding="utf-8")
    for rel, text in framework_files(manifest).items():
        (out / "frameworks").mkdir(exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
    (out / "pack.toml").write_text(pack_toml(manifest, quiz_files), encoding="utf-8")
    return out


def _task_toml(task: dict[str, Any]) -> str:
    """Return a task's .toml file (issue 15), which the build reads back into the same task."""
    head: dict[str, Any] = {"type": "task"}
    for lang, text in task.get("instructions", {}).items():
        head[f"instructions_{lang}"] = text
    for key in ("accept", "max_mb", "due", "pass_mark", "rubric"):
        if task.get(key) is not None:
            head[key] = task[key]
    return tomli_w.dumps(head)


def export_zip(zip_path: Path, out_dir: Path) -> dict[str, Any]:
    """Write the source folder of the pack zip ``zip_path``; return its manifest."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BadSource(N_("%(file)s is not a pack zip"), file=str(zip_path)) from exc
    with zf:
        try:
            manifest = json.loads(zf.read(MANIFEST))
        except (KeyError, ValueError) as exc:
            raise BadSource(
                N_("%(file)s has no readable manifest.json"), file=str(zip_path)
            ) from exc

        def copy(path: str, dest: Path) -> None:
            with zf.open(path) as fin, open(dest, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1024 * 1024)

        write_source(manifest, copy, out_dir)
    return manifest


def export_installed(pack_id: str, home: DataHome, out_dir: Path) -> dict[str, Any]:
    """Write the source folder of the installed pack ``pack_id`` from the content store.

    Raises:
        PackNotFound: no such pack is installed.
    """
    from ..models import Pack
    from ..store import ContentStore

    pack = Pack.get_or_none(Pack.pack_id == pack_id)
    if pack is None:
        raise PackNotFound(N_("No pack %(pack)s is installed"), pack=pack_id)
    manifest = json.loads(pack.manifest)
    store = ContentStore(home)
    shas = {f["path"]: f["sha256"] for f in manifest["files"]}

    def copy(path: str, dest: Path) -> None:
        shutil.copyfile(store.path_for(shas[path]), dest)

    write_source(manifest, copy, out_dir)
    return manifest
