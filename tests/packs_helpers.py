"""Helpers for the content-pack tests: rewrite built zips into bad ones, snapshot state."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_server.base.db import db


def rewrite(
    src: Path,
    dst: Path,
    replace: dict[str, bytes | None] | None = None,
    add: list[tuple[zipfile.ZipInfo | str, bytes]] | None = None,
) -> Path:
    """Copy the zip ``src`` to ``dst``, replacing (or with None dropping) entries, adding some."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in replace:
                if replace[info.filename] is not None:
                    zout.writestr(info, replace[info.filename])
                continue
            zout.writestr(info, zin.read(info))
        for name, data in add or []:
            zout.writestr(name, data)
    return dst


def edit_manifest(src: Path, dst: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """Copy ``src`` to ``dst`` with ``change`` applied to the manifest (no checksums redone)."""
    with zipfile.ZipFile(src) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    change(manifest)
    return rewrite(src, dst, {"manifest.json": json.dumps(manifest).encode()})


def store_files(app: Any) -> list[str]:
    root = app.config["KRU_HOME"].content
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def snapshot(app: Any) -> dict[str, Any]:
    """Return everything an install writes: catalog rows, search rows and store files."""
    tables = {}
    for table in ("packs", "courses", "modules", "items", "pack_files", "search_index"):
        rows = db.execute_sql(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        tables[table] = rows
    return {"tables": tables, "store": store_files(app)}
