"""Serve files out of an installed HTML5 app zip: signed links that expire, streamed members.

An app runs in a sandboxed iframe, in an opaque origin that sends no cookies, so its own
requests cannot be checked against a session. Its URLs carry a token instead: an expiry
time and an HMAC of the item and that time under the server's secret key. The item page
makes a new token each time it is opened. Members are read from the zip as they are sent,
never whole: 8 requests for one 60 MB file took a worker from 73 MB to 735 MB (issue 12).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from edge_server.base.datahome import DataHome
from edge_server.base.errors import N_, KruError

from .errors import PackNotFound
from .manifest import mime_for
from .store import ContentStore
from .zipsafe import is_safe_name

LINK_HOURS = 12  # a school day; opening the item again renews it
SKIP_BLOCK = 1024 * 1024  # read size when skipping to a range's start in a compressed file


class AppLinkExpired(KruError):
    code = "app_link_expired"
    status = 403


def _signature(secret: bytes, item_key: str, expires: int) -> str:
    message = f"app:{item_key}:{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def app_token(secret: bytes, item_key: str, now: float) -> str:
    """Return the path part that opens ``item_key``'s files for ``LINK_HOURS`` from ``now``.

    The expiry is rounded up to a whole hour, so the URL stays the same for an hour and a
    phone's cache can serve the app's files again.
    """
    expires = (int(now) // 3600 + 1 + LINK_HOURS) * 3600
    return f"{expires}-{_signature(secret, item_key, expires)}"


def check_app_token(secret: bytes, item_key: str, token: str, now: float) -> None:
    """Accept ``token`` for ``item_key`` at ``now``, or raise.

    Raises:
        PackNotFound: the token is malformed or not signed for this item.
        AppLinkExpired: the token was good but its time has passed.
    """
    expires_text, _, signature = token.partition("-")
    if not expires_text.isdigit() or len(expires_text) > 12:
        raise PackNotFound(N_("No such web app"))
    expires = int(expires_text)
    if not hmac.compare_digest(signature, _signature(secret, item_key, expires)):
        raise PackNotFound(N_("No such web app"))
    if expires < now:
        raise AppLinkExpired(N_("This activity's link has expired; open the activity again"))


@dataclass(frozen=True)
class AppFile:
    """A member of an app zip, found but not yet read."""

    zip_path: Path
    member: str
    size: int
    mime: str
    etag: str
    raw_offset: int | None  # where a stored (uncompressed) member's bytes start in the zip

    def open_raw(self, start: int) -> IO[bytes] | None:
        """Return the zip file positioned at byte ``start`` of a stored member (else None),
        for a server to send straight from the file."""
        if self.raw_offset is None:
            return None
        fh = open(self.zip_path, "rb")  # the caller (the server) closes it
        fh.seek(self.raw_offset + start)
        return fh

    def iter_range(self, start: int, stop: int, block: int = 64 * 1024) -> Iterator[bytes]:
        """Yield bytes ``start`` to ``stop`` (exclusive) of the member, a block at a time."""
        with zipfile.ZipFile(self.zip_path) as zf, zf.open(self.member) as fh:
            skipped = 0
            while skipped < start:  # forward in small reads (ZipExtFile.seek reads 16 MiB)
                data = fh.read(min(SKIP_BLOCK, start - skipped))
                if not data:
                    return
                skipped += len(data)
            left = stop - start
            while left > 0 and (data := fh.read(min(block, left))):
                left -= len(data)
                yield data


def _raw_offset(zip_path: Path, info: zipfile.ZipInfo) -> int | None:
    """Return where a stored member's bytes start (after its local header), else None."""
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        return None
    with open(zip_path, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        return None
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


def open_member(home: DataHome, zip_sha256: str, member_path: str) -> AppFile:
    """Find ``member_path`` inside the app zip ``zip_sha256``, ready to stream.

    Raises:
        PackNotFound: the zip is not in the store, or the path is unsafe or not in the zip.
    """
    store = ContentStore(home)
    try:
        path = store.path_for(zip_sha256)
    except ValueError:
        raise PackNotFound(N_("No such web app")) from None
    member = member_path.lstrip("/") or "index.html"
    if not is_safe_name(member) or member.endswith("/"):
        raise PackNotFound(N_("No such file in the web app: %(path)s"), path=member_path)
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(member)
        raw_offset = _raw_offset(path, info)
    except (FileNotFoundError, zipfile.BadZipFile):
        raise PackNotFound(N_("No such web app")) from None
    except KeyError:
        raise PackNotFound(N_("No such file in the web app: %(path)s"), path=member) from None
    etag = hashlib.sha256(f"{zip_sha256}/{member}".encode()).hexdigest()[:32]
    return AppFile(path, member, info.file_size, mime_for(member), etag, raw_offset)
