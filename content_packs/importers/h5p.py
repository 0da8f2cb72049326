"""H5P packages: checks of h5p.json, the libraries and their preloaded files.

Kru refuses a package whose h5p.json is not JSON or lacks required fields, whose library
folder does not match its library.json, or whose library.json lists a file the package
lacks. https://h5p.org/specification
"""

from __future__ import annotations

import json
import zipfile
from typing import Any

from edge_server.base.errors import N_

from .errors import BrokenFile

REQUIRED = ("title", "mainLibrary", "language", "preloadedDependencies", "embedTypes")
MAX_JSON = 2 * 1024 * 1024


def _json(zf: zipfile.ZipFile, name: str) -> Any:
    info = zf.getinfo(name)
    if info.file_size > MAX_JSON:
        raise BrokenFile(N_("%(file)s is too large"), file=name)
    try:
        return json.loads(zf.read(name).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BrokenFile(
            N_("%(file)s is not valid JSON: %(problem)s"), file=name, problem=str(exc)
        ) from exc


def check(zf: zipfile.ZipFile) -> dict[str, Any]:
    """Return h5p.json of a valid package.

    Raises:
        BrokenFile: the first problem found, naming the file.
    """
    names = set(zf.namelist())
    meta = _json(zf, "h5p.json")
    if not isinstance(meta, dict):
        raise BrokenFile(N_("%(file)s must be a JSON object"), file="h5p.json")
    missing = [key for key in REQUIRED if key not in meta]
    if missing:
        raise BrokenFile(
            N_("%(file)s lacks the required field %(field)s"), file="h5p.json", field=missing[0]
        )
    if "content/content.json" not in names:
        raise BrokenFile(N_("the package has no %(file)s"), file="content/content.json")
    _json(zf, "content/content.json")
    folders = {
        n.split("/", 1)[0] for n in names if n.endswith("/library.json") and n.count("/") == 1
    }
    for folder in sorted(folders):
        lib = _json(zf, f"{folder}/library.json")
        name = lib.get("machineName", "")
        major, minor = lib.get("majorVersion"), lib.get("minorVersion")
        if folder not in (name, f"{name}-{major}.{minor}"):
            raise BrokenFile(
                N_(
                    "library folder %(folder)s does not match its library.json "
                    "(%(name)s %(major)s.%(minor)s)"
                ),
                folder=folder,
                name=name,
                major=major,
                minor=minor,
            )
        for kind in ("preloadedJs", "preloadedCss"):
            for entry in lib.get(kind, []):
                path = f"{folder}/{entry.get('path', '')}"
                if path not in names:
                    raise BrokenFile(
                        N_("library %(folder)s lists %(file)s, which the package lacks"),
                        folder=folder,
                        file=path,
                    )
    main = meta["mainLibrary"]
    if not any(f == main or f.startswith(main + "-") for f in folders):
        raise BrokenFile(N_("the main library %(name)s is not in the package"), name=main)
    return meta
