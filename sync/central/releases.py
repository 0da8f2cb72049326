"""Kru releases on central (issue 20): add signed bundles, assign them, tell sites, hear back.

``add_release`` takes a bundle made by ``build-bundle.sh --tar`` and its signature record
(``<bundle>.sig``, made by ``kru release sign`` on the ministry's offline machine; central
never holds the private key). It checks the record's signature and that the file is exactly
the one signed, and that its signer is one of the release keys central trusts
(``central.release_keys_dir``, the same ``*.pub`` files as the sites' image): a release the
sites would refuse is refused here, before it costs any site a download. It then keeps the
file by sha256 beside the pack files (``library/``), so a site downloads it resumably with HTTP
Range like any pack file. Sites check the signature again against the keys of their own image,
which is what protects them. An assignment names a
version; a site gets the newest version assigned to it (all sites, its province or itself).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from edge_server.base.datahome import DataHome
from edge_server.base.db import utcnow
from edge_server.base.errors import N_
from sync import assigned_protocol as ap
from sync import release_record as rr

from . import library
from . import library_models as lm
from .db import database
from .library_models import LibraryRelease, ReleaseAssignment, SiteRelease
from .models import Device

log = logging.getLogger(__name__)

RELEASE_ID = "kru"


class ReleaseNotInLibrary(library.PackNotInLibrary):
    code = "release_not_in_library"


def check_signer(release: rr.Release, keys_dir: Path) -> str:
    """Return the name of the trusted key (its file's stem) that signed ``release``.

    Raises:
        UntrustedSigner: central trusts no release key, or not the one that signed it.
    """
    names = rr.trusted_key_names(keys_dir)
    if not names:
        raise rr.UntrustedSigner(
            N_(
                "Central trusts no release key, so it adds no release: put the ministry's "
                "release public keys (*.pub) in %(folder)s (setting central.release_keys_dir)"
            ),
            folder=str(keys_dir),
        )
    try:
        rr.check_trusted(release, list(names))
    except rr.UntrustedRelease as exc:
        raise rr.UntrustedSigner(
            N_(
                "Kru %(version)s is signed by key %(key)s, which central does not trust (the "
                "sites would refuse it): sign it with the ministry's key, or put that key's .pub "
                "file in %(folder)s"
            ),
            version=release.version,
            key=rr.key_id(release.public_key),
            folder=str(keys_dir),
        ) from exc
    return names[release.public_key]


def signer_names(keys_dir: Path) -> dict[str, str]:
    """Return central's trusted release keys with their names, for the Releases page."""
    return rr.trusted_key_names(keys_dir)


def add_release(
    bundle: Path, home: DataHome, keys_dir: Path, sig: Path | None = None
) -> tuple[LibraryRelease, bool]:
    """Check ``bundle`` against its signature record and central's trusted keys
    (``keys_dir``) and add it; return (row, already there). A refusal stores nothing.

    Raises:
        BadRelease: no signature beside it, a damaged one, or the file is not the one signed.
        UntrustedSigner: not signed by a key in ``keys_dir`` (or it holds none).
        LibraryConflict: this version and architecture is in the library with other bytes.
    """
    bundle = Path(bundle)
    sig = sig or rr.sig_path(bundle)
    if not bundle.is_file():
        raise rr.BadRelease(N_("There is no file %(file)s"), file=str(bundle))
    try:
        sig_bytes = sig.read_bytes()[: rr.MAX_SIG_BYTES + 1]
    except OSError as exc:
        raise rr.BadRelease(
            N_("No signature %(file)s beside the bundle: sign it with kru release sign"),
            file=sig.name,
        ) from exc
    release = rr.parse_record(sig_bytes)
    check_signer(release, Path(keys_dir))
    if bundle.stat().st_size != release.size or rr.file_sha256(bundle) != release.sha256:
        raise rr.BadRelease(
            N_("The bundle is not the one signed (checksum differs): copy it again")
        )
    if release.size > ap.MAX_RELEASE_BYTES:
        raise rr.BadRelease(N_("A release may have at most 512 MB"))
    existing = LibraryRelease.get_or_none(
        (LibraryRelease.version == release.version) & (LibraryRelease.arch == release.arch)
    )
    if existing is not None:
        if existing.sha256 == release.sha256:
            return existing, True
        raise library.LibraryConflict(
            N_("The library already has Kru %(version)s for %(arch)s with other content"),
            version=release.version,
            arch=release.arch,
        )
    target = library.file_path(home, release.sha256)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{release.sha256}.tmp")
        shutil.copyfile(bundle, tmp)
        if rr.file_sha256(tmp) != release.sha256:
            tmp.unlink()
            raise rr.BadRelease(N_("The bundle changed while it was read"))
        tmp.replace(target)
    row = LibraryRelease.create(
        version=release.version,
        arch=release.arch,
        sha256=release.sha256,
        size=release.size,
        signature=json.dumps(release.record, sort_keys=True),
        signer_key=release.public_key,
        added_at=utcnow(),
    )
    log.info("library: added Kru %s for %s", release.version, release.arch)
    return row, False


def assign(version: str, scope: str, target: str = "") -> ReleaseAssignment:
    """Assign Kru ``version`` to all sites, a province or one device (idempotent).

    Raises:
        ReleaseNotInLibrary: no bundle of ``version`` is in the library.
        BadAssignment: the scope is unknown, the province empty, or the device unknown.
    """
    if not LibraryRelease.select().where(LibraryRelease.version == version).exists():
        raise ReleaseNotInLibrary(
            N_("No Kru %(version)s in the library; add it first with kru central release add"),
            version=version,
        )
    target = target.strip()
    if scope not in lm.SCOPES:
        raise library.BadAssignment(N_("Assign to all sites, a province or a site"))
    if scope == lm.ALL:
        target = ""
    elif scope == lm.PROVINCE and not target:
        raise library.BadAssignment(N_("Name the province"))
    elif scope == lm.SITE and not Device.select().where(Device.device_id == target).exists():
        raise library.BadAssignment(N_("No device %(device)s is registered"), device=target)
    found = ReleaseAssignment.get_or_none(
        (ReleaseAssignment.version == version)
        & (ReleaseAssignment.scope == scope)
        & (ReleaseAssignment.target == target)
    )
    return found or ReleaseAssignment.create(
        version=version, scope=scope, target=target, created_at=utcnow()
    )


def unassign(assignment_id: int) -> None:
    ReleaseAssignment.delete().where(ReleaseAssignment.id == assignment_id).execute()


def assigned_version(device: Device) -> str | None:
    """Return the newest Kru version assigned to ``device`` (all, its province, itself)."""
    rows = ReleaseAssignment.select().where(
        (ReleaseAssignment.scope == lm.ALL)
        | ((ReleaseAssignment.scope == lm.PROVINCE) & (ReleaseAssignment.target == device.province))
        | ((ReleaseAssignment.scope == lm.SITE) & (ReleaseAssignment.target == device.device_id))
    )
    versions = {r.version for r in rows}
    return max(versions, key=rr.version_key) if versions else None


def assigned_bundles(device: Device) -> list[LibraryRelease]:
    """Return the bundles (one per architecture) of the version assigned to ``device``."""
    version = assigned_version(device)
    if version is None:
        return []
    return list(
        LibraryRelease.select()
        .where(LibraryRelease.version == version)
        .order_by(LibraryRelease.arch)
    )


def manifest_items(device: Device) -> list[dict[str, Any]]:
    """Return the ``release`` items of ``device``'s manifest (docs/sync-protocol.md §13)."""
    return [
        {
            "kind": ap.KIND_RELEASE,
            "id": RELEASE_ID,
            "version": r.version,
            "arch": r.arch,
            "sha256": r.sha256,
            "size": r.size,
            "signature": json.loads(r.signature),
            "path": ap.file_path(r.sha256),
        }
        for r in assigned_bundles(device)
    ]


def file_for(device: Device, home: DataHome, sha256: str) -> Path | None:
    """Return the path of bundle ``sha256`` when it is assigned to ``device``."""
    if any(r.sha256 == sha256 for r in assigned_bundles(device)):
        path = library.file_path(home, sha256)
        return path if path.exists() else None
    return None


def record_report(device: Device, report: Any) -> bool:
    """Store the ``release`` part of a site's report, when it has one; return whether it had.

    ``{"running": "0.1.0", "version": "0.2.0", "state": "installed|pending|failed",
    "code": "health_failed", "reason": "..."}`` (an unknown code is kept as "").

    Raises:
        BadReport: the part is there but not such an object.
    """
    part = report.get("release") if isinstance(report, dict) else None
    if part is None:
        return False
    if not isinstance(part, dict) or part.get("state") not in lm.STATES:
        raise library.BadReport(N_("The release report needs a known state"))
    values = {
        "running": str(part.get("running") or "")[:60],
        "version": str(part.get("version") or "")[:60],
        "state": part["state"],
        "code": code if rr.upgrade_reason(code := str(part.get("code") or "")) else "",
        "reason": str(part.get("reason") or "")[:500],
        "reported_at": utcnow(),
    }
    with database.atomic():
        updated = SiteRelease.update(**values).where(SiteRelease.device == device.id).execute()
        if not updated:
            SiteRelease.create(device=device.id, **values)
    return True


def listing() -> list[dict[str, Any]]:
    """Return every release in the library with its assignments, newest first."""
    assignments: dict[str, list[ReleaseAssignment]] = {}
    for a in ReleaseAssignment.select().order_by(ReleaseAssignment.id):
        assignments.setdefault(a.version, []).append(a)
    rows = sorted(
        LibraryRelease.select(), key=lambda r: (rr.version_key(r.version), r.arch), reverse=True
    )
    return [{"release": r, "assignments": assignments.get(r.version, [])} for r in rows]


def fleet_status() -> list[dict[str, Any]]:
    """Return per device: the version assigned, the version it runs, and the upgrade's state
    (with its reason code, the code's untranslated ``words``, and the site's detail)."""
    reported = {r.__data__["device"]: r for r in SiteRelease.select()}
    out = []
    for device in Device.select().order_by(Device.device_id):
        want = assigned_version(device)
        got = reported.get(device.id)
        running = got.running if got is not None else ""
        if want is None:
            state, code, reason = "", "", ""
        elif running == want:
            state, code, reason = lm.INSTALLED, "", ""
        elif got is not None and got.state == lm.FAILED and got.version == want:
            state, code, reason = lm.FAILED, got.code, got.reason
        else:
            state = lm.PENDING
            code, reason = (got.code, got.reason) if got is not None else ("", "")
        out.append(
            {
                "device": device,
                "assigned": want or "",
                "running": running,
                "state": state,
                "code": code,
                "words": rr.upgrade_reason(code),
                "reason": reason,
                "reported_at": got.reported_at if got is not None else "",
            }
        )
    return out
