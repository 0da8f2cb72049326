"""Content URLs of pack files, for every part of Kru (no Flask needed)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

CONTENT_PREFIX = "/c/"


def content_url(file_ref: dict[str, Any]) -> str:
    """Return ``/c/<sha256>/<file name>`` for a file reference ``{"path", "sha256", ...}``.

    The URL never changes for the same bytes, so browsers may cache it for a year.
    """
    name = PurePosixPath(file_ref.get("path") or "").name
    url = CONTENT_PREFIX + file_ref["sha256"]
    return f"{url}/{quote(name)}" if name else url
