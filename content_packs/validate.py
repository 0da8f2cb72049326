"""Check a pack zip completely before anything is installed: ``validate_pack``.

Order: the zip itself (entries inside the root, no symlinks, no bombs, not too many),
the manifest (JSON, schema, slugs, file references), the files (every listed file present
with its size and sha256, nothing unlisted), nested HTML5 app zips, lesson text, and the
signature against the site's policy.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_server.base.errors import N_

from . import zipsafe
from .errors import InvalidPack, Problem
from .manifest import MANIFEST, RESERVED, SIGNATURE, iter_items, parse_manifest
from .signing import check_signature, site_trusted_keys

MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_LESSON_BYTES = 4 * 1024 * 1024


@dataclass
class CheckedPack:
    """A pack that passed validation, with what install needs to know about it."""

    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    signed: bool
    signer_key: str | None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def pack_id(self) -> str:
        return self.manifest["id"]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def size_bytes(self) -> int:
        return sum(f["size"] for f in self.files.values())


def _file_problems(zf: zipfile.ZipFile, manifest: dict[str, Any], checksums: bool) -> list[Problem]:
    problems: list[Problem] = []
    infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
    present = set(infos) - RESERVED
    listed = {f["path"]: f for f in manifest["files"]}
    for path in sorted(set(listed) - present):
        problems.append(
            Problem("file_missing", N_("is listed in the manifest but not in the zip"), path)
        )
    for path in sorted(present - set(listed)):
        problems.append(
            Problem("file_unlisted", N_("is in the zip but not listed in the manifest"), path)
        )
    for path in sorted(set(listed) & present):
        want = listed[path]
        if infos[path].file_size != want["size"]:
            problems.append(
                Problem(
                    "size_mismatch",
                    N_("is %(actual)s bytes but the manifest says %(expected)s"),
                    path,
                    {"actual": infos[path].file_size, "expected": want["size"]},
                )
            )
        elif checksums:
            digest, size = zipsafe.hash_member(zf, path, want["size"])
            if size != want["size"] or digest != want["sha256"]:
                problems.append(
                    Problem(
                        "checksum_mismatch",
                        N_("its sha256 does not match the manifest; the file was changed"),
                        path,
                    )
                )
    return problems


def _content_problems(
    zf: zipfile.ZipFile, manifest: dict[str, Any], limits: zipsafe.Limits
) -> list[Problem]:
    """Check lesson text is UTF-8 and HTML5 app zips are safe and hold their entry page."""
    problems: list[Problem] = []
    names = set(zf.namelist())
    for _course, _module, item in iter_items(manifest):
        path = item.get("file")
        if not path or path not in names:
            continue
        if item["type"] == "lesson":
            data = b"".join(zipsafe.read_member(zf, path, MAX_LESSON_BYTES))
            if len(data) > MAX_LESSON_BYTES:
                problems.append(Problem("lesson_too_large", N_("the lesson is too long"), path))
                continue
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                problems.append(
                    Problem("lesson_not_utf8", N_("the lesson is not UTF-8 text"), path)
                )
        elif item["type"] == "html5":
            problems += _html5_problems(zf, path, item.get("entry") or "index.html", limits)
    return problems


def _html5_problems(
    zf: zipfile.ZipFile, path: str, entry: str, limits: zipsafe.Limits
) -> list[Problem]:
    try:
        with zf.open(path) as raw, zipfile.ZipFile(raw) as inner:
            problems = zipsafe.entry_problems(inner, limits, label=f"{path}!")
            if not problems and entry not in inner.namelist():
                problems.append(
                    Problem(
                        "html5_no_entry",
                        N_("the web app has no %(entry)s"),
                        path,
                        {"entry": entry},
                    )
                )
            return problems
    except (zipfile.BadZipFile, OSError):
        return [Problem("not_a_zip", N_("the web app is not a zip file"), path)]


def inspect_pack(
    zip_path: str | Path, settings: Any, *, checksums: bool = True
) -> tuple[CheckedPack | None, list[Problem]]:
    """Return the checked pack (None when invalid) and every problem found.

    ``checksums=False`` skips hashing the files (install hashes them while copying).
    """
    zip_path = Path(zip_path)
    name = zip_path.name
    try:
        zf = zipfile.ZipFile(zip_path)
    except FileNotFoundError:
        return None, [Problem("file_not_found", N_("the file does not exist"), name)]
    except (zipfile.BadZipFile, OSError, ValueError):
        return None, [Problem("not_a_zip", N_("is not a zip file; a pack is a .zip"), name)]
    with zf:
        limits = zipsafe.Limits.from_settings(settings)
        problems = zipsafe.entry_problems(zf, limits)
        if problems:
            return None, problems
        names = set(zf.namelist())
        if MANIFEST not in names:
            return None, [
                Problem("manifest_missing", N_("the zip has no manifest.json at its root"), name)
            ]
        data = b"".join(zipsafe.read_member(zf, MANIFEST, MAX_MANIFEST_BYTES))
        if len(data) > MAX_MANIFEST_BYTES:
            return None, [Problem("manifest_malformed", N_("is too large"), MANIFEST)]
        manifest, problems = parse_manifest(data)
        if manifest is None:
            return None, problems
        problems = _file_problems(zf, manifest, checksums)
        problems += _content_problems(zf, manifest, limits)
        sig_data = (
            b"".join(zipsafe.read_member(zf, SIGNATURE, 64 * 1024)) if SIGNATURE in names else None
        )
        sig = check_signature(
            manifest,
            sig_data,
            site_trusted_keys(settings),
            settings["packs.allow_unsigned"],
        )
        problems += sig.problems
        if problems:
            return None, problems
        checked = CheckedPack(
            path=zip_path,
            manifest=manifest,
            manifest_sha256=hashlib.sha256(data).hexdigest(),
            signed=sig.signed,
            signer_key=sig.signer_key,
            files={f["path"]: f for f in manifest["files"]},
        )
        return checked, []


def validate_pack(zip_path: str | Path, settings: Any) -> list[Problem]:
    """Return every problem of the pack at ``zip_path`` (an empty list when it is valid)."""
    return inspect_pack(zip_path, settings)[1]


def check_pack(zip_path: str | Path, settings: Any, *, checksums: bool = True) -> CheckedPack:
    """Return the checked pack.

    Raises:
        InvalidPack: with every problem found.
    """
    checked, problems = inspect_pack(zip_path, settings, checksums=checksums)
    if checked is None:
        raise InvalidPack(problems)
    return checked
