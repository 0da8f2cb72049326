"""Packs on mounted removable drives (setting ``packs.usb_roots``, default ``/media``)."""

from __future__ import annotations

import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

from edge_server.base.errors import N_

from .errors import PackNotFound
from .manifest import MANIFEST
from .models import Pack

log = logging.getLogger(__name__)

MAX_DEPTH = 4  # /media/<user>/<drive>/<folder>/pack.zip
MAX_FOUND = 200


def _peek(path: Path) -> dict[str, Any]:
    """Return id, version and titles from a zip's manifest, or {} when unreadable."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(MANIFEST)
            if info.file_size > 16 * 1024 * 1024:
                return {}
            manifest = json.loads(zf.read(info))
        title = manifest.get("title") or {}
        return {
            "id": str(manifest.get("id", "")),
            "version": str(manifest.get("version", "")),
            "title_km": str(title.get("km", "")),
            "title_en": str(title.get("en", "")),
        }
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, AttributeError):
        return {}


def find_usb_packs(roots: list[str]) -> list[dict[str, Any]]:
    """Return the ``.zip`` files under ``roots`` (a few folders deep) with what they hold."""
    installed = {p.pack_id: p.version for p in Pack.select(Pack.pack_id, Pack.version)}
    found: list[dict[str, Any]] = []
    for root in roots:
        base = Path(root)
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            depth = len(Path(dirpath).relative_to(base).parts)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and depth < MAX_DEPTH)
            for name in sorted(filenames):
                if not name.lower().endswith(".zip") or name.startswith("."):
                    continue
                path = Path(dirpath) / name
                if path.is_symlink() or not path.is_file():
                    continue
                entry: dict[str, Any] = {
                    "path": str(path),
                    "name": name,
                    "size_bytes": path.stat().st_size,
                }
                entry.update(_peek(path))
                entry["installed_version"] = installed.get(entry.get("id", ""))
                found.append(entry)
                if len(found) >= MAX_FOUND:
                    return found
    return found


def resolve_usb_path(path: str, roots: list[str]) -> Path:
    """Return ``path`` if it is a ``.zip`` file under one of ``roots``.

    Raises:
        PackNotFound: the path is elsewhere, not a zip file, or gone.
    """
    target = Path(os.path.realpath(path))
    for root in roots:
        base = Path(os.path.realpath(root))
        if target.is_relative_to(base) and target.suffix.lower() == ".zip" and target.is_file():
            return target
    raise PackNotFound(N_("No pack file %(path)s on a removable drive"), path=path)


def panel(app_config: Any) -> dict[str, Any]:
    """Return what the site page's USB panel shows: the roots and the packs found there."""
    roots = list(app_config["KRU"]["packs.usb_roots"])
    return {"roots": roots, "packs": find_usb_packs(roots)}
