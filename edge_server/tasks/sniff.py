"""What a submitted file really is, from its first bytes (never its name or the browser's word).

``filetype`` (PyPI) reads the magic numbers; each accepted MIME type belongs to one kind a
task can accept. Anything else (scripts, HTML, SVG, archives, unknown bytes) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..base.errors import N_, ValidationError

_OFFICE = "application/vnd.openxmlformats-officedocument."
MIME_KINDS: dict[str, str] = {
    "application/pdf": "document",
    _OFFICE + "wordprocessingml.document": "document",
    _OFFICE + "spreadsheetml.sheet": "document",
    _OFFICE + "presentationml.presentation": "document",
    "application/vnd.oasis.opendocument.text": "document",
    "application/vnd.oasis.opendocument.spreadsheet": "document",
    "application/vnd.oasis.opendocument.presentation": "document",
    "application/msword": "document",
    "application/vnd.ms-excel": "document",
    "application/vnd.ms-powerpoint": "document",
    "application/rtf": "document",
    "image/jpeg": "image",
    "image/png": "image",
    "image/gif": "image",
    "image/webp": "image",
    "image/heic": "image",
    "image/heif": "image",
    "audio/mpeg": "audio",
    "audio/mp4": "audio",
    "audio/ogg": "audio",
    "audio/x-wav": "audio",
    "audio/amr": "audio",
    "audio/aac": "audio",
    "audio/x-flac": "audio",
    "video/mp4": "video",
    "video/webm": "video",
    "video/quicktime": "video",
    "video/3gpp": "video",
    "video/x-matroska": "video",
    "video/x-m4v": "video",
}
# Shown in the browser by the review page; other kinds are downloaded.
INLINE = {"application/pdf", "image/jpeg", "image/png", "image/gif", "image/webp"}
INLINE |= {m for m, k in MIME_KINDS.items() if k in ("audio", "video")}


class WrongKind(ValidationError):
    code = "wrong_file_kind"
    status = 415


@dataclass(frozen=True)
class Sniffed:
    mime: str
    kind: str
    extension: str


def sniff(path: Path, accept: tuple[str, ...], name: str) -> Sniffed:
    """Return what the file at ``path`` is, if it is one of the ``accept`` kinds.

    Raises:
        WrongKind: its bytes are no known kind, or a kind the task does not take.
    """
    import filetype  # here: only a handed-in file is sniffed (issue 22)

    guess = filetype.guess(str(path))
    mime = guess.mime if guess else ""
    kind = MIME_KINDS.get(mime)
    if kind is None or kind not in accept:
        raise WrongKind(
            N_("%(file)s is not a file this task takes (%(kinds)s); its content was checked"),
            file=name,
            kinds=", ".join(accept),
            details={"file": name, "found": mime or "unknown"},
        )
    return Sniffed(mime, kind, guess.extension if guess else "")
