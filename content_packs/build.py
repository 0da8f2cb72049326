"""Build a pack zip from a folder an instructor writes by hand: ``build_pack(src, out)``.

The folder holds ``pack.toml`` (the pack, its courses, modules and the list of items),
lessons as Markdown (or HTML) with TOML front matter between ``+++`` lines, quizzes as
TOML files, and media. Every file in the folder goes into the pack except ``pack.toml``,
the quiz, task and observation ``.toml`` files (they become data in the manifest) and
hidden files; a folder named as an ``html5`` item is zipped into one file. Checksums are
computed here.

A ``.toml`` item is a quiz, or a task when it says ``type = "task"`` (in the file or its
pack.toml entry): Markdown instructions, accepted kinds, a size limit, a due date, a pass
mark and a rubric of criteria with levels (docs/content-packs.md, "Tasks"); an
observation form when it says ``type = "observation"``: a rubric whose criteria may name
the competency they give evidence of (docs/content-packs.md, "Observation forms").
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tomllib
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from edge_server.base.errors import N_

from .errors import BadSource, InvalidPack
from .manifest import FORMAT_VERSION, LESSON_ENDINGS, MANIFEST, TYPE_ENDINGS

FRONT_MATTER = "+++"
# Media that is compressed already is stored as is; text is deflated.
STORED = {".mp4", ".m4v", ".webm", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".png", ".jpg"}
STORED |= {".jpeg", ".gif", ".webp", ".pdf", ".zip", ".woff2", ".woff"}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same folder builds the same zip
ITEM_KEYS = {
    "slug",
    "type",
    "title_km",
    "title_en",
    "required",
    "duration_s",
    "duration_min",
    "competencies",
}
QUIZ_KEYS = {"pass_mark", "attempts", "shuffle", "questions"}
TASK_KEYS = {"instructions_km", "instructions_en", "accept", "max_mb", "due", "pass_mark", "rubric"}
OBSERVATION_KEYS = {"instructions_km", "instructions_en", "rubric"}


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:64] or "item"


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BadSource(N_("%(file)s is missing"), file=label) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadSource(
            N_("%(file)s is not valid TOML: %(problem)s"), file=label, problem=str(exc)
        ) from exc


def _text(table: dict[str, Any], name: str) -> dict[str, str]:
    """Return {"km", "en"} from ``name_km``/``name_en`` keys or a ``[name]`` table."""
    value = table.get(name)
    if isinstance(value, dict):
        out = {k: str(v) for k, v in value.items()}
    else:
        out = {}
        for lang in ("km", "en"):
            if table.get(f"{name}_{lang}"):
                out[lang] = str(table[f"{name}_{lang}"])
    return out


def split_front_matter(text: str, label: str) -> tuple[dict[str, Any], str]:
    """Return (front matter, body) of a lesson; front matter is TOML between ``+++`` lines.

    Raises:
        BadSource: the front matter is not closed or not TOML.
    """
    text = text.lstrip("\ufeff")
    if text.startswith("---\n"):
        raise BadSource(
            N_("%(file)s: write the front matter as TOML between +++ lines, not ---"), file=label
        )
    if not text.startswith(FRONT_MATTER + "\n"):
        return {}, text
    end = text.find("\n" + FRONT_MATTER, len(FRONT_MATTER))
    if end < 0:
        raise BadSource(N_("%(file)s: the front matter has no closing +++ line"), file=label)
    head = text[len(FRONT_MATTER) + 1 : end]
    body = text[end + len(FRONT_MATTER) + 1 :].lstrip("\n")
    try:
        return tomllib.loads(head), body
    except tomllib.TOMLDecodeError as exc:
        raise BadSource(
            N_("%(file)s: the front matter is not valid TOML: %(problem)s"),
            file=label,
            problem=str(exc),
        ) from exc


def _first_heading(body: str) -> str:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def _guess_type(path: str, is_dir: bool) -> str:
    ending = PurePosixPath(path).suffix.lower()
    if is_dir:
        return "html5"
    if ending == ".toml":
        return "quiz"
    if ending in LESSON_ENDINGS["markdown"] | LESSON_ENDINGS["html"]:
        return "lesson"
    for kind, endings in TYPE_ENDINGS.items():
        if ending in endings:
            return kind
    return ""


def _common(entry: dict[str, Any], meta: dict[str, Any], default_slug: str) -> dict[str, Any]:
    """Return slug, title, required and duration from the pack.toml entry over the file's own."""
    merged = {**meta, **{k: v for k, v in entry.items() if k in ITEM_KEYS}}
    item: dict[str, Any] = {"slug": str(merged.get("slug") or default_slug)}
    item["title"] = _text(merged, "title")
    if "required" in merged:
        item["required"] = merged["required"]
    if "duration_s" in merged:
        item["duration_s"] = merged["duration_s"]
    elif "duration_min" in merged:
        item["duration_s"] = int(float(merged["duration_min"]) * 60)
    if "competencies" in merged:  # issue 16: the competencies the item gives evidence for
        item["competencies"] = merged["competencies"]
    return item


class _Builder:
    def __init__(self, src: Path) -> None:
        self.src = src
        self.files: dict[str, bytes | Path] = {}
        self.consumed: set[str] = set()  # source files replaced by something else

    def _source(self, rel: str) -> Path:
        path = (self.src / rel).resolve()
        if not rel or rel.startswith("/") or "\\" in rel or not path.is_relative_to(self.src):
            raise BadSource(N_("%(file)s must be a path inside the pack folder"), file=rel)
        if not path.exists():
            raise BadSource(N_("pack.toml names %(file)s, which does not exist"), file=rel)
        return path

    def item(self, entry: Any) -> dict[str, Any]:
        if isinstance(entry, str):
            entry = {"file": entry}
        if not isinstance(entry, dict) or not entry.get("file"):
            raise BadSource(N_("pack.toml: each item needs a file"))
        rel = str(entry["file"]).rstrip("/")
        path = self._source(rel)
        kind = entry.get("type") or _guess_type(rel, path.is_dir())
        default_slug = slugify(PurePosixPath(rel).stem)
        if kind == "lesson":
            return self._lesson(entry, rel, path, default_slug)
        if kind == "quiz":
            kind = entry.get("type") or _says_type(path) or "quiz"
        if kind == "quiz":
            return self._quiz(entry, rel, path, default_slug)
        if kind == "task":
            return self._task(entry, rel, path, default_slug)
        if kind == "observation":
            return self._observation(entry, rel, path, default_slug)
        if kind == "html5" and path.is_dir():
            rel = self._zip_folder(rel, path)
        if kind not in TYPE_ENDINGS:
            raise BadSource(
                N_("pack.toml: cannot tell what kind of item %(file)s is; add type = ..."),
                file=rel,
            )
        item = {**_common(entry, {}, default_slug), "type": kind, "file": rel}
        if kind == "video":
            item["captions"] = [
                {k: str(v) for k, v in c.items()} for c in entry.get("captions", [])
            ]
            item["poster"] = entry.get("poster")
        if kind == "image" and (alt := _text(entry, "alt")):
            item["alt"] = alt
        if kind == "html5":
            item["entry"] = entry.get("entry", "index.html")
        return item

    def _lesson(self, entry: dict, rel: str, path: Path, default_slug: str) -> dict[str, Any]:
        meta, body = split_front_matter(path.read_text(encoding="utf-8"), rel)
        item = _common(entry, meta, default_slug)
        if not item["title"] and (heading := _first_heading(body)):
            item["title"] = {"km": heading}
        item["type"] = "lesson"
        item["file"] = rel
        ending = PurePosixPath(rel).suffix.lower()
        item["format"] = "html" if ending in LESSON_ENDINGS["html"] else "markdown"
        self.files[rel] = body.encode("utf-8")
        return item

    def _quiz(self, entry: dict, rel: str, path: Path, default_slug: str) -> dict[str, Any]:
        data = _read_toml(path, rel)
        self.consumed.add(rel)
        item = _common(entry, data, default_slug)
        item["type"] = "quiz"
        quiz = {k: v for k, v in data.items() if k in QUIZ_KEYS}
        quiz.setdefault("pass_mark", 0.6)
        quiz.setdefault("attempts", None)
        quiz.setdefault("shuffle", False)
        unknown = sorted(set(data) - QUIZ_KEYS - ITEM_KEYS)
        if unknown:
            raise BadSource(
                N_("%(file)s: unknown keys %(keys)s"), file=rel, keys=", ".join(unknown)
            )
        item["quiz"] = quiz
        return item

    def _task(self, entry: dict, rel: str, path: Path, default_slug: str) -> dict[str, Any]:
        data = _read_toml(path, rel)
        self.consumed.add(rel)
        item = _common(entry, data, default_slug)
        item["type"] = "task"
        unknown = sorted(set(data) - TASK_KEYS - ITEM_KEYS)
        if unknown:
            raise BadSource(
                N_("%(file)s: unknown keys %(keys)s"), file=rel, keys=", ".join(unknown)
            )
        task: dict[str, Any] = {"instructions": _text(data, "instructions")}
        task["accept"] = list(data.get("accept") or [])
        for key in ("max_mb", "due", "pass_mark"):
            if key in data:
                task[key] = str(data[key]) if key == "due" else data[key]
        task["rubric"] = [_criterion(c) for c in data.get("rubric") or []]
        item["task"] = task
        return item

    def _observation(self, entry: dict, rel: str, path: Path, default_slug: str) -> dict[str, Any]:
        data = _read_toml(path, rel)
        self.consumed.add(rel)
        item = _common(entry, data, default_slug)
        item["type"] = "observation"
        item.setdefault("required", False)  # evidence a mentor records, not work to pass
        unknown = sorted(set(data) - OBSERVATION_KEYS - ITEM_KEYS)
        if unknown:
            raise BadSource(
                N_("%(file)s: unknown keys %(keys)s"), file=rel, keys=", ".join(unknown)
            )
        form: dict[str, Any] = {"rubric": [_criterion(c) for c in data.get("rubric") or []]}
        if instructions := _text(data, "instructions"):
            form["instructions"] = instructions
        item["observation"] = form
        return item

    def _zip_folder(self, rel: str, path: Path) -> str:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                name = file.relative_to(path).as_posix()
                if any(part.startswith(".") for part in PurePosixPath(name).parts):
                    continue
                zf.writestr(_zip_info(name, file.suffix.lower()), file.read_bytes())
        self.consumed.add(rel)
        zipped = rel + ".zip"
        self.files[zipped] = buf.getvalue()
        return zipped

    def other_files(self) -> None:
        """Add every remaining file of the folder (media, images used by lessons, ...)."""
        for path in sorted(self.src.rglob("*")):
            rel = path.relative_to(self.src).as_posix()
            parts = PurePosixPath(rel).parts
            if any(p.startswith(".") for p in parts) or not path.is_file() or rel == "pack.toml":
                continue
            if rel in self.files or path.suffix == ".toml":
                continue
            if any(rel.startswith(c + "/") or rel == c for c in self.consumed):
                continue
            if path.is_symlink():
                raise BadSource(N_("%(file)s is a symbolic link; copy the file in"), file=rel)
            self.files[rel] = path


def _says_type(path: Path) -> str | None:
    """Return the ``type`` a ``.toml`` item file declares (``task``, ``observation``), if any."""
    try:
        said = tomllib.loads(path.read_text(encoding="utf-8")).get("type")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None  # the quiz reader reports the mistake
    return said if said in ("task", "observation") else None


def _criterion(raw: Any) -> dict[str, Any]:
    """Return a rubric criterion of the manifest from its TOML table (``[[rubric]]``)."""
    if not isinstance(raw, dict):
        return {}
    levels = []
    for level in raw.get("levels") or []:
        out = {"id": level.get("id"), "label": _text(level, "label"), "points": level.get("points")}
        if descriptor := _text(level, "descriptor"):
            out["descriptor"] = descriptor
        levels.append(out)
    out = {"id": raw.get("id"), "title": _text(raw, "title"), "levels": levels}
    if raw.get("competency") is not None:  # issue 16: the competency the criterion rates
        out["competency"] = raw["competency"]
    return out


def _text_tree(raw: Any) -> Any:
    """Return a framework's TOML tables with every ``title_km``/``title_en`` (and description)
    pair as one text object, recursively."""
    if isinstance(raw, list):
        return [_text_tree(v) for v in raw]
    if not isinstance(raw, dict):
        return raw
    out = {
        k: _text_tree(v)
        for k, v in raw.items()
        if not k.endswith(("_km", "_en")) or k.rpartition("_")[0] not in ("title", "description")
    }
    for name in ("title", "description"):
        if text := _text(raw, name):
            out[name] = text
    return out


def _framework(src: Path, rel: Any) -> dict[str, Any]:
    """Return a competency framework of the manifest from its TOML file (issue 16).

    Raises:
        BadSource: the file is missing or is not TOML.
    """
    if not isinstance(rel, str):
        raise BadSource(N_("pack.toml: frameworks lists the framework files by name"))
    path = (src / rel).resolve()
    if not path.is_file() or src not in path.parents:
        raise BadSource(N_("pack.toml names %(file)s, which does not exist"), file=rel)
    return _text_tree(_read_toml(path, rel))


def _zip_info(name: str, ending: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED if ending in STORED else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _digest(data: bytes | Path) -> tuple[str, int]:
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest(), len(data)
    digest = hashlib.sha256()
    with open(data, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest(), data.stat().st_size


def _rule(table: dict[str, Any]) -> dict[str, Any]:
    """Return a pack.toml rule table with ``title_km``/``title_en`` as one text object."""
    out = {k: v for k, v in table.items() if k not in ("title_km", "title_en")}
    if title := _text(table, "title"):
        out["title"] = title
    return out


def make_manifest(src_dir: str | Path) -> tuple[dict[str, Any], dict[str, bytes | Path]]:
    """Return the manifest of the folder ``src_dir`` and the files that go into the zip.

    Raises:
        BadSource: pack.toml, a lesson or a quiz file has a mistake.
    """
    src = Path(src_dir).resolve()
    if not src.is_dir():
        raise BadSource(N_("%(file)s is not a folder"), file=str(src_dir))
    spec = _read_toml(src / "pack.toml", "pack.toml")
    builder = _Builder(src)
    courses = []
    for course in spec.get("courses", []):
        modules = []
        for module in course.get("modules", []):
            items = [builder.item(entry) for entry in module.get("items", [])]
            modules.append({"slug": module.get("slug"), "title": _text(module, "title")})
            modules[-1]["items"] = items
        entry = {"slug": course.get("slug"), "title": _text(course, "title"), "modules": modules}
        entry = {k: v for k, v in entry.items() if v is not None}
        if desc := _text(course, "description"):
            entry["description"] = desc
        entry["open"] = bool(course.get("open", False))
        for part in ("completion", "certificate"):  # issue 16: passed through as written
            if isinstance(course.get(part), dict):
                entry[part] = _rule(course[part])
        if isinstance(board := course.get("discussion"), dict):  # issue 16: board per cohort
            entry["discussion"] = {"review": bool(board.get("review", False))}
            if prompt := _text(board, "prompt"):
                entry["discussion"]["prompt"] = prompt
        if plan := course.get("sessions"):
            entry["sessions"] = [
                {
                    k: v
                    for k, v in {**s, "title": _text(s, "title")}.items()
                    if k not in ("title_km", "title_en")
                }
                for s in plan
            ]
        courses.append(entry)
    frameworks = [_framework(src, rel) for rel in spec.get("frameworks") or []]
    builder.other_files()
    files = []
    for rel in sorted(builder.files):
        digest, size = _digest(builder.files[rel])
        files.append({"path": rel, "size": size, "sha256": digest})
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "id": spec.get("id"),
        "version": str(spec.get("version", "")),
        "title": _text(spec, "title"),
        "description": _text(spec, "description"),
        "language": spec.get("language", "km"),
        "license": spec.get("license"),
        "authors": spec.get("authors"),
        "courses": courses,
        "frameworks": frameworks or None,
        "files": files,
    }
    return {k: v for k, v in manifest.items() if v is not None}, builder.files


def build_pack(src_dir: str | Path, out_zip: str | Path) -> dict[str, Any]:
    """Build the pack zip ``out_zip`` from the folder ``src_dir``; return its manifest.

    The zip is checked with the default limits before it is kept.

    Raises:
        BadSource: the folder has a mistake (missing file, bad TOML, ...).
        InvalidPack: the result would not pass ``kru pack validate``.
    """
    manifest, files = make_manifest(src_dir)
    write_pack(manifest, files, out_zip)
    return manifest


def write_pack(
    manifest: dict[str, Any], files: dict[str, bytes | Path], out_zip: str | Path
) -> None:
    """Write ``manifest`` and ``files`` as the pack zip ``out_zip``, checked before it is kept.

    Raises:
        InvalidPack: the result would not pass ``kru pack validate`` (nothing is written).
    """
    from edge_server.base.settings import load_settings

    from .validate import validate_pack

    out = Path(out_zip)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.building")
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            text = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True)
            zf.writestr(_zip_info(MANIFEST, ".json"), text.encode("utf-8"))
            for rel in sorted(files):
                data = files[rel]
                info = _zip_info(rel, PurePosixPath(rel).suffix.lower())
                if isinstance(data, bytes):
                    zf.writestr(info, data)
                else:
                    with open(data, "rb") as fin, zf.open(info, "w") as fout:
                        while chunk := fin.read(1024 * 1024):
                            fout.write(chunk)
        problems = validate_pack(tmp, load_settings(environ={}))
        if problems:
            raise InvalidPack(problems)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
