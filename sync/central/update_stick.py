"""A "site update stick" (issue 20 item 5): what central assigns, written for sneakernet.

``write_stick(home, out, site=D | province=P)`` writes into ``out/kru-update/`` the packs and
the Kru release assigned to that site (or to a whole province: the assignments to all sites
and to that province), in the layout the site's Site page reads
(``sync.edge.update_stick``)::

    kru-update/update.json                 what is on it, for whom, when
    kru-update/packs/<id>-<version>.zip    each pack, signed, rebuilt from the library
    kru-update/release/kru-bundle-V-A.tar.gz and .tar.gz.sig   the release and its signature

Packs are put together from the library's files by sha256 (manifest, signature, files), so
they are byte for byte what the ministry signed; the site checks each as any upload.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from content_packs.manifest import MANIFEST, SIGNATURE
from edge_server.base.datahome import DataHome
from edge_server.base.errors import N_, NotFound, StorageError, ValidationError
from sync import release_record as rr

from . import library, releases
from .library_models import LibraryFile
from .models import Device

FOLDER = "kru-update"
INDEX = "update.json"
FORMAT = 1
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class _Province:
    """Stands for 'every site of a province' where the library asks for a device."""

    province: str
    device_id: str = ""


def _target(site: str | None, province: str | None) -> tuple[Any, dict[str, str]]:
    if bool(site) == bool(province):
        raise ValidationError(N_("Name one site or one province"), code="bad_stick_target")
    if site:
        device = Device.get_or_none(Device.device_id == site)
        if device is None:
            raise NotFound(N_("No device %(device)s is registered"), code="no_device", device=site)
        return device, {"site": site}
    return _Province(str(province)), {"province": str(province)}


def _write_pack(home: DataHome, pack: Any, out: Path) -> None:
    # Put together on central's own disk, then copied in one pass: zipfile seeks back to
    # finish each entry, which some stick file systems (FUSE FAT) refuse.
    home.tmp.mkdir(parents=True, exist_ok=True)
    built = home.tmp / f"stick-{pack.manifest_sha256}.zip"
    with zipfile.ZipFile(built, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.write(library.file_path(home, pack.manifest_sha256), MANIFEST)
        zf.write(library.file_path(home, pack.signature_sha256), SIGNATURE)
        for row in LibraryFile.select().where(LibraryFile.library_pack == pack.id):
            with (
                open(library.file_path(home, row.sha256), "rb") as src,
                zf.open(row.path, "w", force_zip64=True) as dst,
            ):
                shutil.copyfileobj(src, dst, _CHUNK)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        shutil.copyfile(built, tmp)
        os.replace(tmp, out)
    finally:
        built.unlink(missing_ok=True)


def write_stick(
    home: DataHome, out: Path, *, site: str | None = None, province: str | None = None
) -> dict[str, Any]:
    """Write the update for ``site`` or ``province`` into ``out/kru-update``; return its index.

    Raises:
        ValidationError: neither or both of site and province; ``out`` is not a folder.
        NotFound: the site is not registered, or nothing is assigned to it.
        StorageError: code ``stick_write_failed``, the stick is full or refused a write.
    """
    try:
        return _write(home, out, site, province)
    except OSError as exc:
        raise StorageError(
            N_("Could not write the update to %(path)s: %(problem)s"),
            code="stick_write_failed",
            path=str(out),
            problem=exc.strerror or str(exc),
        ) from exc


def _write(home: DataHome, out: Path, site: str | None, province: str | None) -> dict[str, Any]:
    target, whom = _target(site, province)
    if not Path(out).is_dir():
        raise ValidationError(
            N_("%(path)s is not a folder"), code="bad_stick_folder", path=str(out)
        )
    packs = library.assigned_packs(target)
    bundles = releases.assigned_bundles(target)
    if not packs and not bundles:
        raise NotFound(
            N_("Nothing is assigned to %(who)s: assign packs or a release first"),
            code="nothing_assigned",
            who=site or province,
        )
    folder = Path(out) / FOLDER
    (folder / "packs").mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {
        "format": FORMAT,
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "for": whom,
        "packs": [],
        "releases": [],
    }
    for pack in packs:
        name = f"{pack.pack_id}-{pack.version}.zip"
        _write_pack(home, pack, folder / "packs" / name)
        index["packs"].append(
            {"id": pack.pack_id, "version": pack.version, "file": f"packs/{name}"}
        )
    if bundles:
        (folder / "release").mkdir(exist_ok=True)
    for bundle in bundles:
        name = f"kru-bundle-{bundle.version}-{bundle.arch}.tar.gz"
        dest = folder / "release" / name
        if not dest.exists() or rr.file_sha256(dest) != bundle.sha256:
            tmp = dest.with_name(f".{name}.tmp")
            shutil.copyfile(library.file_path(home, bundle.sha256), tmp)
            os.replace(tmp, dest)
        record = json.loads(bundle.signature)
        rr.sig_path(dest).write_text(json.dumps(record, indent=1, sort_keys=True))
        index["releases"].append(
            {"version": bundle.version, "arch": bundle.arch, "file": f"release/{name}"}
        )
    (folder / INDEX).write_text(json.dumps(index, indent=1), encoding="utf-8")
    return index
