"""The "what central has for this site" pull (sync protocol 1.1, docs/sync-protocol.md §9).

Shared by both ends, like ``sync.protocol``: the paths, the item kinds, the limits and the
error codes. Requests are signed exactly as in ``sync.protocol`` (batch id ``-``).
"""

from __future__ import annotations

import re

# 1.1 adds the pull below (a 1.0 central answers 404); 1.2 adds packs; 1.3 is sync by USB
# drive (sync.usb_protocol); 1.4 adds national teacher ids (batches), 1.5 Kru releases
PROTOCOL_MINOR = 5

ASSIGNED_PATH = "/api/v1/sync/assigned"  # GET: the manifest
CSR_PATH = "/api/v1/sync/csr"  # POST: the site's certificate request (PEM)
FILES_PREFIX = "/api/v1/sync/files/"  # GET <prefix><sha256>: one assigned file (Range: 1.2)
PACKS_REPORT_PATH = "/api/v1/sync/packs"  # POST (1.2): what packs the site has (JSON)

# Item kinds in the manifest.
KIND_CERTIFICATE = "certificate"
KIND_PACK = "pack"  # 1.2: a pack version in central's library, its files by sha256
KIND_RELEASE = "release"  # 1.5: a signed Kru bundle (sync.release_record), one file by sha256

MAX_CSR_BYTES = 16 * 1024
MAX_REPORT_BYTES = 256 * 1024
MAX_FILE_BYTES = 64 * 1024 * 1024  # a pack file a site downloads in one request
MAX_RELEASE_BYTES = 512 * 1024 * 1024  # a release bundle (wheels, maybe .debs)

# Error codes (the JSON body's error.code).
E_BAD_CSR = "bad_csr"  # 400: not a PEM request, bad signature, weak key
E_NAME_NOT_ALLOWED = "name_not_allowed"  # 403: the request is for another name
E_HTTPS_OFF = "https_not_configured"  # 409: central has no domain or DNS plug-in
E_NO_FILE = "file_not_found"  # 404
E_BAD_REPORT = "bad_pack_report"  # 400: the pack report is not what §10 describes

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def file_path(sha256: str) -> str:
    """Return the path of assigned file ``sha256`` (what the signature covers)."""
    return FILES_PREFIX + sha256
