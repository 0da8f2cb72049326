"""Read files out of an installed HTML5 app zip, for serving it in a sandboxed iframe."""

from __future__ import annotations

import zipfile

from edge_server.base.datahome import DataHome
from edge_server.base.errors import N_

from .errors import PackNotFound
from .manifest import mime_for
from .store import ContentStore
from .zipsafe import is_safe_name

MAX_MEMBER_BYTES = 64 * 1024 * 1024


def open_member(home: DataHome, zip_sha256: str, member_path: str) -> tuple[bytes, str]:
    """Return (bytes, MIME type) of ``member_path`` inside the app zip ``zip_sha256``.

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
            if info.file_size > MAX_MEMBER_BYTES:
                raise PackNotFound(N_("No such file in the web app: %(path)s"), path=member)
            with zf.open(info) as fh:
                data = fh.read(MAX_MEMBER_BYTES + 1)
    except (FileNotFoundError, zipfile.BadZipFile):
        raise PackNotFound(N_("No such web app")) from None
    except KeyError:
        raise PackNotFound(N_("No such file in the web app: %(path)s"), path=member) from None
    return data, mime_for(member)
