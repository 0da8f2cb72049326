"""Download an installed pack as a zip: exported, rebuilt and signed with the site's key."""

from __future__ import annotations

import tempfile
from pathlib import Path

from edge_server.base.datahome import DataHome
from edge_server.base.site_signing import KEY_FILE, signing_key

from ..build import build_pack
from ..signing import sign_pack
from .source import export_installed


def pack_zip(pack_id: str, home: DataHome) -> Path:
    """Return a temporary zip of ``pack_id`` (the caller deletes its folder after use).

    The manifest and files are those installed, byte for byte for packs made by
    ``kru pack build``; the signature is this site's (it vouches for what it serves).

    Raises:
        PackNotFound: no such pack is installed.
        NotExportable: the pack cannot be written back as a source folder.
    """
    home.tmp.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="export-", dir=home.tmp))
    manifest = export_installed(pack_id, home, work / "src")
    out = work / f"{pack_id}--{pack_id}-{manifest['version'].replace('+', '_')}.zip"
    build_pack(work / "src", out)
    signing_key(home)
    sign_pack(out, home.secrets / KEY_FILE)
    return out
