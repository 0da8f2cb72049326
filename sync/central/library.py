"""The fleet's pack library on central: add signed packs, assign them, list them for sites.

``add_pack`` validates a pack exactly as a site would (``content_packs.validate``, every
checksum) and accepts only packs signed by a key central trusts (``packs.trusted_keys``).
Its files are kept on disk by sha256 (``library/<2 hex>/<sha256>``, like a site's content
store) with the manifest and the signature, so a site fetches only the files it lacks and a
download can resume with HTTP Range. An assignment names a pack id; sites get the newest
version in the library.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from content_packs import zipsafe
from content_packs.manifest import MANIFEST, SIGNATURE, semver_key
from content_packs.validate import check_pack
from edge_server.base.datahome import DataHome
from edge_server.base.db import utcnow
from edge_server.base.errors import N_, Conflict, NotFound, ValidationError
from sync import assigned_protocol as ap

from . import library_models as lm
from .db import database
from .library_models import LibraryFile, LibraryPack, PackAssignment, SitePack
from .models import Device

log = logging.getLogger(__name__)

LIBRARY_DIR = "library"
MAX_REPORTED_PACKS = 500


class PackNotInLibrary(NotFound):
    code = "pack_not_in_library"


class LibraryConflict(Conflict):
    code = "library_conflict"


class BadAssignment(ValidationError):
    code = "bad_assignment"


class BadReport(ValidationError):
    code = "bad_pack_report"


@dataclass(frozen=True)
class Added:
    pack_id: str
    version: str
    files: int
    new_files: int
    size: int
    already: bool = False


def file_path(home: DataHome, sha256: str) -> Path:
    """Return where library file ``sha256`` is kept (``ValueError`` unless 64 hex)."""
    if not ap.SHA256_RE.match(sha256):
        raise ValueError("not a sha256")
    return home.root / LIBRARY_DIR / sha256[:2] / sha256


def _store(home: DataHome, sha256: str, chunks: Any) -> bool:
    """Write ``chunks`` as file ``sha256`` unless present; return True when written."""
    target = file_path(home, sha256)
    if target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{sha256}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    with open(tmp, "wb") as fh:
        for chunk in chunks:
            digest.update(chunk)
            fh.write(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    if digest.hexdigest() != sha256:
        tmp.unlink()
        raise ValidationError(N_("%(file)s changed while it was read"), file=sha256)
    os.replace(tmp, target)
    return True


def add_pack(zip_path: str | Path, settings: Any, home: DataHome) -> Added:
    """Validate the signed pack at ``zip_path`` and add it to the library.

    Raises:
        InvalidPack: the pack fails validation, is unsigned, or its signer is not trusted.
        LibraryConflict: this version is in the library with other content.
    """
    strict = settings.replace(packs__allow_unsigned=False)
    checked = check_pack(zip_path, strict, checksums=True)
    existing = LibraryPack.get_or_none(
        (LibraryPack.pack_id == checked.pack_id) & (LibraryPack.version == checked.version)
    )
    if existing is not None:
        if existing.manifest_sha256 == checked.manifest_sha256:
            return Added(checked.pack_id, checked.version, existing.files, 0, existing.size, True)
        raise LibraryConflict(
            N_(
                "The library already has %(pack)s %(version)s with other content; "
                "raise the version in pack.toml and build it again"
            ),
            pack=checked.pack_id,
            version=checked.version,
        )
    new_files = 0
    with zipfile.ZipFile(checked.path) as zf:
        manifest = zf.read(MANIFEST)
        signature = zf.read(SIGNATURE)
        sig_sha = hashlib.sha256(signature).hexdigest()
        _store(home, checked.manifest_sha256, [manifest])
        _store(home, sig_sha, [signature])
        for path, ref in sorted(checked.files.items()):
            chunks = zipsafe.read_member(zf, path, ref["size"])
            new_files += _store(home, ref["sha256"], chunks)
    title = checked.manifest
    with database.atomic():
        row = LibraryPack.create(
            pack_id=checked.pack_id,
            version=checked.version,
            title_km=title.get("title_km", ""),
            title_en=title.get("title_en", ""),
            manifest_sha256=checked.manifest_sha256,
            signature_sha256=sig_sha,
            signer_key=checked.signer_key or "",
            size=checked.size_bytes,
            files=len(checked.files),
            added_at=utcnow(),
        )
        LibraryFile.insert_many(
            [
                {"library_pack": row.id, "path": p, "sha256": f["sha256"], "size": f["size"]}
                for p, f in sorted(checked.files.items())
            ]
        ).execute()
    log.info("library: added %s %s (%s new files)", checked.pack_id, checked.version, new_files)
    return Added(checked.pack_id, checked.version, row.files, new_files, row.size)


def newest(pack_id: str) -> LibraryPack | None:
    """Return the newest version of ``pack_id`` in the library."""
    rows = list(LibraryPack.select().where(LibraryPack.pack_id == pack_id))
    return max(rows, key=lambda r: semver_key(r.version)) if rows else None


def assign(pack_id: str, scope: str, target: str = "") -> PackAssignment:
    """Assign ``pack_id`` to all sites, a province or one device (idempotent).

    Raises:
        PackNotInLibrary: no version of ``pack_id`` is in the library.
        BadAssignment: the scope is unknown, the province empty, or the device unknown.
    """
    if newest(pack_id) is None:
        raise PackNotInLibrary(
            N_("No pack %(pack)s in the library; add it first with kru central pack add"),
            pack=pack_id,
        )
    target = target.strip()
    if scope not in lm.SCOPES:
        raise BadAssignment(N_("Assign to all sites, a province or a site"))
    if scope == lm.ALL:
        target = ""
    elif scope == lm.PROVINCE and not target:
        raise BadAssignment(N_("Name the province"))
    elif scope == lm.SITE and not Device.select().where(Device.device_id == target).exists():
        raise BadAssignment(N_("No device %(device)s is registered"), device=target)
    found = PackAssignment.get_or_none(
        (PackAssignment.pack_id == pack_id)
        & (PackAssignment.scope == scope)
        & (PackAssignment.target == target)
    )
    return found or PackAssignment.create(
        pack_id=pack_id, scope=scope, target=target, created_at=utcnow()
    )


def unassign(assignment_id: int) -> None:
    PackAssignment.delete().where(PackAssignment.id == assignment_id).execute()


def _assigned_ids(device: Device) -> list[str]:
    rows = PackAssignment.select().where(
        (PackAssignment.scope == lm.ALL)
        | ((PackAssignment.scope == lm.PROVINCE) & (PackAssignment.target == device.province))
        | ((PackAssignment.scope == lm.SITE) & (PackAssignment.target == device.device_id))
    )
    return sorted({r.pack_id for r in rows})


def assigned_packs(device: Device) -> list[LibraryPack]:
    """Return the newest library version of every pack assigned to ``device``."""
    return [p for pid in _assigned_ids(device) if (p := newest(pid)) is not None]


def manifest_items(device: Device) -> list[dict[str, Any]]:
    """Return the ``pack`` items of ``device``'s manifest (docs/sync-protocol.md §10)."""
    items = []
    for pack in assigned_packs(device):
        rows = LibraryFile.select().where(LibraryFile.library_pack == pack.id)
        files = {f.sha256: f.size for f in rows}
        items.append(
            {
                "kind": ap.KIND_PACK,
                "id": pack.pack_id,
                "version": pack.version,
                "sha256": pack.manifest_sha256,
                "signature_sha256": pack.signature_sha256,
                "size": pack.size,
                "files": [{"sha256": s, "size": n} for s, n in sorted(files.items())],
                "path": ap.file_path(pack.manifest_sha256),
            }
        )
    return items


def file_for(device: Device, home: DataHome, sha256: str) -> Path | None:
    """Return the path of library file ``sha256`` when a pack assigned to ``device`` has it."""
    for pack in assigned_packs(device):
        if sha256 in (pack.manifest_sha256, pack.signature_sha256) or (
            LibraryFile.select()
            .where((LibraryFile.library_pack == pack.id) & (LibraryFile.sha256 == sha256))
            .exists()
        ):
            path = file_path(home, sha256)
            return path if path.exists() else None
    return None


def record_report(device: Device, report: Any) -> int:
    """Store what ``device`` says it has: ``{"packs": [{id, version, state, reason}]}``.

    Raises:
        BadReport: the body is not such a list.
    """
    packs = report.get("packs") if isinstance(report, dict) else None
    if not isinstance(packs, list) or len(packs) > MAX_REPORTED_PACKS:
        raise BadReport(N_("The pack report must hold a list of packs"))
    rows = []
    for entry in packs:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("id"), str)
            or not 0 < len(entry["id"]) <= 100
            or entry.get("state") not in lm.STATES
        ):
            raise BadReport(N_("Each reported pack needs an id and a known state"))
        rows.append(
            {
                "device": device.id,
                "pack_id": entry["id"],
                "version": str(entry.get("version") or "")[:40],
                "state": entry["state"],
                "reason": str(entry.get("reason") or "")[:500],
                "reported_at": utcnow(),
            }
        )
    with database.atomic():
        SitePack.delete().where(SitePack.device == device.id).execute()
        if rows:
            SitePack.insert_many(rows).execute()
    return len(rows)


def library_listing() -> list[dict[str, Any]]:
    """Return every pack version in the library with its assignments (newest first)."""
    assignments: dict[str, list[PackAssignment]] = {}
    for a in PackAssignment.select().order_by(PackAssignment.id):
        assignments.setdefault(a.pack_id, []).append(a)
    rows = sorted(
        LibraryPack.select(),
        key=lambda r: (r.pack_id, semver_key(r.version)),
        reverse=True,
    )
    return [{"pack": r, "assignments": assignments.get(r.pack_id, [])} for r in rows]


def fleet_status() -> list[dict[str, Any]]:
    """Return per device: assigned packs (newest version) and what the site reported."""
    out = []
    reported: dict[int, dict[str, SitePack]] = {}
    for r in SitePack.select():
        reported.setdefault(r.__data__["device"], {})[r.pack_id] = r
    for device in Device.select().order_by(Device.device_id):
        mine = reported.get(device.id, {})
        packs = []
        for pack in assigned_packs(device):
            got = mine.get(pack.pack_id)
            if got is not None and got.state == lm.INSTALLED and got.version == pack.version:
                state, reason = lm.INSTALLED, ""
            elif got is not None and got.state == lm.FAILED:
                state, reason = lm.FAILED, got.reason
            else:
                state, reason = lm.PENDING, got.reason if got is not None else ""
            packs.append(
                {
                    "pack_id": pack.pack_id,
                    "version": pack.version,
                    "site_version": got.version if got is not None else "",
                    "state": state,
                    "reason": reason,
                }
            )
        out.append({"device": device, "packs": packs})
    return out
