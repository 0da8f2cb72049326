"""Resumable uploads (tus 1.0 core, creation, termination, expiration), stored in the data home.

One protocol for every large file a person sends to the Pi: content packs now, learner
submissions later (issue 15). A client creates an upload with its full length, then sends
it in chunks of at most ``CHUNK_BYTES``, each at the offset the server holds; after a cut
connection it asks for the offset and goes on from there. A finished upload is claimed by
the feature it was made for (a pack install), which removes it. docs/api.md describes the
protocol for clients.

Each upload is a folder ``<data home>/tmp/uploads/<id>/`` holding ``data`` (the bytes so
far), ``info.json`` (owner, purpose, length, offset, expiry; replaced atomically after the
data is on disk) and ``lock`` (flock: one writer at a time, across worker processes).
Uploads untouched for ``EXPIRY_S`` are removed by ``sweep``, which runs at each creation.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

from . import diskspace
from .datahome import DataHome, write_file_atomically
from .errors import N_, Conflict, KruError, NotFound, StorageError, ValidationError

log = logging.getLogger(__name__)

CHUNK_BYTES = 8 * 1024 * 1024  # one PATCH body at most; waitress's global cap sits just above
EXPIRY_S = 24 * 3600  # an upload untouched this long is abandoned
MAX_OPEN_PER_OWNER = 10
COPY_BLOCK = 1024 * 1024
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = ("creation", "termination", "expiration")
_ID = re.compile(r"^[0-9a-f]{32}$")


class UploadNotFound(NotFound):
    code = "upload_not_found"


class OffsetMismatch(Conflict):
    code = "upload_offset_mismatch"


class UploadBusy(Conflict):
    code = "upload_busy"


class UploadIncomplete(Conflict):
    code = "upload_incomplete"


class TooManyUploads(KruError):
    code = "too_many_uploads"
    status = 429


class NotEnoughSpace(StorageError):
    code = "not_enough_space"


@dataclass
class Upload:
    """What the server knows of one upload."""

    id: str
    owner: int
    purpose: str
    length: int
    offset: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    expires_at: float = 0.0

    @property
    def complete(self) -> bool:
        return self.offset == self.length


def parse_metadata(header: str) -> dict[str, str]:
    """Return the pairs of a tus ``Upload-Metadata`` header (``key base64,key base64``).

    Raises:
        ValidationError: a pair is malformed or its value is not base64 of UTF-8 text.
    """
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = part.partition(" ")
        if not key or " " in value.strip():
            raise ValidationError(
                N_("Upload-Metadata must be pairs of a key and a base64 value"),
                code="invalid_metadata",
            )
        try:
            pairs[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8
            raise ValidationError(
                N_("Upload-Metadata must be pairs of a key and a base64 value"),
                code="invalid_metadata",
            ) from None
    return pairs


class UploadStore:
    """The uploads of one data home. ``clock`` returns Unix seconds (tests move it).

    ``settings`` give the disk reserve an upload leaves free (``disk.reserve_mb`` and
    ``disk.reserve_percent``; their defaults without settings).
    """

    def __init__(
        self,
        home: DataHome,
        clock: Callable[[], float] = time.time,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = home.tmp / "uploads"
        self.clock = clock
        self.settings = settings

    # --- paths and records ----------------------------------------------------------------

    def _folder(self, upload_id: str) -> Path:
        if not _ID.match(upload_id or ""):
            raise UploadNotFound(N_("No such upload; start it again"))
        return self.root / upload_id

    def data_path(self, upload: Upload) -> Path:
        return self._folder(upload.id) / "data"

    def _read(self, upload_id: str) -> Upload:
        try:
            raw = json.loads((self._folder(upload_id) / "info.json").read_text())
            return Upload(**raw)
        except (OSError, ValueError, TypeError):
            raise UploadNotFound(N_("No such upload; start it again")) from None

    def _write(self, upload: Upload) -> None:
        write_file_atomically(self._folder(upload.id) / "info.json", json.dumps(asdict(upload)))

    @contextlib.contextmanager
    def _locked(self, upload_id: str) -> Iterator[None]:
        """Hold the upload's lock; another request on it meanwhile gets ``UploadBusy``."""
        try:
            fd = os.open(self._folder(upload_id) / "lock", os.O_RDWR)
        except FileNotFoundError:
            raise UploadNotFound(N_("No such upload; start it again")) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise UploadBusy(
                        N_("Another request is writing this upload; try again in a moment")
                    ) from None
                raise
            yield
        finally:
            os.close(fd)

    def _open(self, upload_id: str, owner: int) -> Upload:
        """Return the upload if ``owner`` made it and it has not expired."""
        upload = self._read(upload_id)
        if upload.owner != owner or upload.expires_at < self.clock():
            raise UploadNotFound(N_("No such upload; start it again"))
        return upload

    # --- the protocol ---------------------------------------------------------------------

    def create(
        self, owner: int, purpose: str, length: int, metadata: dict[str, str] | None = None
    ) -> Upload:
        """Start an upload of ``length`` bytes for ``purpose`` (the caller checked its limit).

        Raises:
            ValidationError: the length is not positive.
            TooManyUploads: ``owner`` has ``MAX_OPEN_PER_OWNER`` unfinished uploads.
            NotEnoughSpace: the disk cannot hold it and keep a reserve.
        """
        if length <= 0:
            raise ValidationError(
                N_("Upload-Length must be a whole number above 0"), code="invalid_length"
            )
        self.sweep()
        if sum(1 for u in self._all() if u.owner == owner) >= MAX_OPEN_PER_OWNER:
            raise TooManyUploads(
                N_("You have %(count)s unfinished uploads; finish or cancel one first"),
                count=MAX_OPEN_PER_OWNER,
            )
        self.root.mkdir(parents=True, exist_ok=True)
        if diskspace.room_for(self.root, self.settings) < length:
            raise NotEnoughSpace(
                N_("The Pi has not enough free space for this upload (%(mb)s MB)"),
                mb=-(-length // (1024 * 1024)),
            )
        now = self.clock()
        upload = Upload(
            id=secrets.token_hex(16),
            owner=owner,
            purpose=purpose,
            length=length,
            metadata=dict(metadata or {}),
            created_at=now,
            expires_at=now + EXPIRY_S,
        )
        folder = self._folder(upload.id)
        folder.mkdir(mode=0o700)
        (folder / "data").touch(mode=0o600)
        (folder / "lock").touch(mode=0o600)
        self._write(upload)
        log.info("upload %s of %s bytes started by user %s", upload.id, length, owner)
        return upload

    def get(self, upload_id: str, owner: int) -> Upload:
        """Return ``owner``'s upload ``upload_id``.

        Raises:
            UploadNotFound: no such upload, not theirs, or expired.
        """
        return self._open(upload_id, owner)

    def append(
        self, upload_id: str, owner: int, offset: int, read: Callable[[int], bytes], size: int
    ) -> Upload:
        """Write ``size`` bytes from ``read`` at ``offset``; return the upload after it.

        The bytes are on disk (fsync) before the new offset is recorded, so after a power
        cut the recorded offset never points past good data.

        Raises:
            UploadNotFound: no such upload, not theirs, or expired.
            OffsetMismatch: ``offset`` is not where the upload stands (``details.offset``).
            ValidationError: the chunk is larger than ``CHUNK_BYTES`` or past the length.
            UploadBusy: another request is writing it.
        """
        if size > CHUNK_BYTES:
            raise ValidationError(
                N_("A chunk may have at most %(limit)s bytes"),
                code="chunk_too_large",
                limit=CHUNK_BYTES,
            )
        with self._locked(upload_id):
            upload = self._open(upload_id, owner)
            if offset != upload.offset:
                raise OffsetMismatch(
                    N_("The upload stands at byte %(offset)s; send from there"),
                    offset=upload.offset,
                    details={"offset": upload.offset},
                )
            if offset + size > upload.length:
                raise ValidationError(
                    N_("The chunk goes past the upload's length of %(length)s bytes"),
                    code="past_length",
                    length=upload.length,
                )
            written = 0
            with open(self.data_path(upload), "r+b") as fh:
                fh.truncate(offset)  # drop bytes a crash may have left past the record
                fh.seek(offset)
                while written < size:
                    block = read(min(COPY_BLOCK, size - written))
                    if not block:
                        break
                    fh.write(block)
                    written += len(block)
                fh.flush()
                os.fsync(fh.fileno())
            upload.offset = offset + written
            upload.expires_at = self.clock() + EXPIRY_S
            self._write(upload)
        return upload

    def delete(self, upload_id: str, owner: int) -> None:
        """Remove ``owner``'s upload (tus termination).

        Raises:
            UploadNotFound: no such upload, not theirs, or expired.
            UploadBusy: a request is writing it.
        """
        with self._locked(upload_id):
            self._open(upload_id, owner)
            self._remove(upload_id)

    @contextlib.contextmanager
    def claim(
        self, upload_id: str, owner: int, purpose: str, name: str = "upload"
    ) -> Iterator[Path]:
        """Yield the path (file name ``name``) of ``owner``'s finished upload for ``purpose``;
        remove it afterwards, whatever the caller did with it.

        Raises:
            UploadNotFound: no such upload, not theirs, expired, or made for another purpose.
            UploadIncomplete: bytes are still missing.
            UploadBusy: a request is writing it.
        """
        with self._locked(upload_id):
            upload = self._open(upload_id, owner)
            if upload.purpose != purpose:
                raise UploadNotFound(N_("No such upload; start it again"))
            if not upload.complete:
                raise UploadIncomplete(
                    N_("The upload has %(offset)s of %(length)s bytes; send the rest first"),
                    offset=upload.offset,
                    length=upload.length,
                )
            if "/" in name or name in ("", ".", "..", "info.json", "lock"):
                name = "upload"
            path = self.data_path(upload).rename(self._folder(upload.id) / name)
            try:
                yield path
            finally:
                self._remove(upload_id)

    # --- housekeeping ---------------------------------------------------------------------

    def _all(self) -> Iterator[Upload]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return
        for name in names:
            try:
                yield self._read(name)
            except UploadNotFound:
                continue

    def _remove(self, upload_id: str) -> None:
        shutil.rmtree(self._folder(upload_id), ignore_errors=True)

    def sweep(self) -> int:
        """Remove expired uploads and leftovers without a record; return how many."""
        now = self.clock()
        removed = 0
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return 0
        for name in names:
            folder = self.root / name
            try:
                upload = self._read(name)
            except UploadNotFound:
                # A folder without a record: a creation cut short (or junk) once it is old.
                try:
                    stale = now - folder.stat().st_mtime > EXPIRY_S
                except OSError:
                    continue
                if stale:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
                continue
            if upload.expires_at < now:
                with contextlib.suppress(UploadBusy, UploadNotFound), self._locked(name):
                    self._remove(name)
                    removed += 1
        if removed:
            log.info("removed %s abandoned uploads", removed)
        return removed


def tus_headers(upload: Upload | None = None) -> dict[str, str]:
    """Return the tus headers of an answer (with the upload's offset and expiry if given)."""
    headers = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}
    if upload is not None:
        headers["Upload-Offset"] = str(upload.offset)
        headers["Upload-Length"] = str(upload.length)
        headers["Upload-Expires"] = formatdate(upload.expires_at, usegmt=True)
    return headers


def as_json(upload: Upload) -> dict[str, Any]:
    """Return what a client may see of an upload."""
    return {
        "id": upload.id,
        "purpose": upload.purpose,
        "length": upload.length,
        "offset": upload.offset,
        "complete": upload.complete,
    }
