"""A SCORM package -> one html5 app zip that plays each of its SCOs in Kru's sandbox.

The app zip holds the package's files as they are, plus ``kru-scorm/`` (scorm-again, the
vendored SCORM run time, and Kru's two small scripts). Every sandboxed page has an opaque
origin of its own, so a SCO cannot reach an API object in another frame. Instead:

* each SCO's launch page gets, as the first scripts of its ``<head>``, scorm-again and
  ``sco.js``: the API (``API`` for SCORM 1.2, ``API_1484_11`` for 2004) lives in the SCO's
  own window, is started with the learner's saved data, and posts what the SCO sets to the
  item page (``{"kru": "scorm", ...}``), which keeps it on the Pi
  (edge_server/site/static/learn/scorm-bridge.js);
* every other HTML page of the package gets ``frame.js``, which lets a page call functions
  of the page around it (``parent.RecordTest(score)``) by ``postMessage``.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from pathlib import Path, PurePosixPath

from ..build import _zip_info
from ..zipsafe import read_member
from .scorm import Sco

VENDOR = Path(__file__).with_name("vendor") / "scorm-again"
RUNTIME = Path(__file__).with_name("scorm_runtime")
FOLDER = "kru-scorm"
LIBRARY = {"1.2": "scorm12.min.js", "2004": "scorm2004.min.js"}
HTML = (".html", ".htm", ".xhtml")
_HEAD = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)
_HTML = re.compile(rb"<html(\s[^>]*)?>", re.IGNORECASE)
_DOCTYPE = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!doctype[^>]*>)?", re.IGNORECASE)


def _scripts(page: str, version: str, launch: bool) -> bytes:
    up = posixpath.relpath(FOLDER, posixpath.dirname(page) or ".")
    if launch:
        tags = (
            f'<script src="{up}/{LIBRARY[version]}"></script>'
            f'<script src="{up}/sco.js" data-scorm="{version}"></script>'
        )
    else:
        tags = f'<script src="{up}/frame.js"></script>'
    return tags.encode("ascii")


def inject(page: str, data: bytes, version: str, launch: bool) -> bytes:
    """Return the HTML ``data`` of ``page`` with Kru's scripts first in its head."""
    tags = _scripts(page, version, launch)
    for pattern in (_HEAD, _HTML):
        match = pattern.search(data)
        if match:
            return data[: match.end()] + tags + data[match.end() :]
    start = _DOCTYPE.match(data)
    end = start.end() if start else 0
    return data[:end] + tags + data[end:]


def app_zip(zf: zipfile.ZipFile, version: str, scos: list[Sco]) -> bytes:
    """Return the html5 app zip that plays the checked SCORM package ``zf``."""
    launches = {sco.href for sco in scos}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in zf.infolist():
            if info.is_dir() or info.filename.startswith(f"{FOLDER}/"):
                continue
            data = b"".join(read_member(zf, info.filename, info.file_size))
            ending = PurePosixPath(info.filename).suffix.lower()
            if ending in HTML:
                data = inject(info.filename, data, version, info.filename in launches)
            out.writestr(_zip_info(info.filename, ending), data)
        library = VENDOR / LIBRARY[version]
        out.writestr(_zip_info(f"{FOLDER}/{library.name}", ".js"), library.read_bytes())
        out.writestr(_zip_info(f"{FOLDER}/LICENSE", ""), (VENDOR / "LICENSE").read_bytes())
        for name in ("sco.js", "frame.js"):
            out.writestr(_zip_info(f"{FOLDER}/{name}", ".js"), (RUNTIME / name).read_bytes())
    return buf.getvalue()
