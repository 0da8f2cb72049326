"""Zip safety: names inside the root, no symlinks, no bombs, not too many entries.

The bomb rule is a compression ratio, for each entry over ``RATIO_MIN_SIZE`` and for all
entries together (150 entries of 1 MiB each from a 180 KB zip passed the per-entry rule:
issue 12), plus a total expanded size.

Every check works from the central directory before a byte is extracted; extraction then
reads at most the size the manifest promises (``read_member``), so a header that lies
about sizes cannot fill the disk either.
"""

from __future__ import annotations

import hashlib
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

from edge_server.base.errors import N_

from .errors import Problem

CHUNK = 1024 * 1024
# The ratio guard applies to entries bigger than this: small text files compress very well.
RATIO_MIN_SIZE = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_entries: int
    max_uncompressed: int
    max_ratio: int

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(
            max_entries=settings["packs.max_entries"],
            max_uncompressed=settings["packs.max_uncompressed_mb"] * 1024 * 1024,
            max_ratio=settings["packs.max_ratio"],
        )


def is_safe_name(name: str) -> bool:
    """Return whether a zip entry name stays inside the root (relative, no ``..``)."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/"):
        return False
    if len(name) > 1 and name[1] == ":":  # C:/... written by Windows tools
        return False
    parts = PurePosixPath(name.rstrip("/")).parts
    return all(part not in ("..", ".", "") for part in parts) and bool(parts)


def is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def entry_problems(zf: zipfile.ZipFile, limits: Limits, label: str = "") -> list[Problem]:
    """Return what is unsafe about the entries of ``zf`` (``label`` prefixes nested names)."""
    problems: list[Problem] = []
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        problems.append(
            Problem(
                "zip_too_many_entries",
                N_("the zip holds %(count)s entries; at most %(limit)s are allowed"),
                label,
                {"count": len(infos), "limit": limits.max_entries},
            )
        )
        return problems
    total = 0
    total_compressed = 0
    seen: set[str] = set()
    for info in infos:
        name = label + info.filename
        if not is_safe_name(info.filename):
            problems.append(
                Problem(
                    "zip_unsafe_path",
                    N_("the entry points outside the pack (absolute path or ..); refused"),
                    name,
                )
            )
            continue
        if is_symlink(info):
            problems.append(
                Problem("zip_symlink", N_("the entry is a symbolic link; packs hold files"), name)
            )
            continue
        if info.filename in seen:
            problems.append(Problem("zip_duplicate", N_("the entry appears twice"), name))
        seen.add(info.filename)
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            problems.append(Problem("zip_encrypted", N_("the entry is encrypted"), name))
        total += info.file_size
        total_compressed += info.compress_size
        if info.file_size > RATIO_MIN_SIZE and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            problems.append(
                Problem(
                    "zip_bomb",
                    N_("the entry expands %(ratio)s times; at most %(limit)s is allowed"),
                    name,
                    {
                        "ratio": info.file_size // max(info.compress_size, 1),
                        "limit": limits.max_ratio,
                    },
                )
            )
    if total > RATIO_MIN_SIZE and total > limits.max_ratio * max(total_compressed, 1):
        problems.append(
            Problem(
                "zip_bomb",
                N_("the files expand %(ratio)s times in all; at most %(limit)s is allowed"),
                label,
                {"ratio": total // max(total_compressed, 1), "limit": limits.max_ratio},
            )
        )
    if total > limits.max_uncompressed:
        problems.append(
            Problem(
                "zip_bomb",
                N_("the files expand to %(size)s MB; at most %(limit)s MB are allowed"),
                label,
                {
                    "size": total // (1024 * 1024),
                    "limit": limits.max_uncompressed // (1024 * 1024),
                },
            )
        )
    return problems


def read_member(zf: zipfile.ZipFile, name: str, limit: int) -> Iterator[bytes]:
    """Yield the bytes of entry ``name`` in chunks, never more than ``limit`` + 1 bytes."""
    with zf.open(name) as fh:
        left = limit + 1
        while left > 0:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def hash_member(zf: zipfile.ZipFile, name: str, limit: int, sink: IO[bytes] | None = None):
    """Return (sha256 hex, size) of entry ``name``, copying it to ``sink`` if given.

    Reads at most ``limit`` + 1 bytes, so a size above ``limit`` shows the header lied.
    """
    digest = hashlib.sha256()
    size = 0
    for chunk in read_member(zf, name, limit):
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink.write(chunk)
    return digest.hexdigest(), size
