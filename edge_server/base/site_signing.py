"""The site's Ed25519 signing key (issue 16): signs certificate records and, in the
authoring issue, the packs this site publishes.

One key per site, separate from the sync HMAC secret: ``secrets/site-signing.key`` under the
data home, PKCS#8 PEM, mode 0600, made at first use. Its public half (raw 32 bytes, base64)
is registered at central at sync; central refuses a changed key until an admin accepts it.
"""

from __future__ import annotations

import base64
import logging

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .datahome import DataHome, write_private_file
from .errors import N_, StorageError

log = logging.getLogger(__name__)

KEY_FILE = "site-signing.key"


def signing_key(home: DataHome) -> Ed25519PrivateKey:
    """Return the site's signing key, creating it (0600 PEM) on first use.

    Two processes starting at once end with the same key: whoever writes the file first.

    Raises:
        StorageError: the key file exists but is not an Ed25519 private key in PEM.
    """
    path = home.secrets / KEY_FILE
    if not path.exists():
        home.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
        fresh = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private_file(path, fresh.decode("ascii"))
        log.info("made the site signing key %s", path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise StorageError(
            N_("The site signing key %(path)s is unreadable: %(problem)s"),
            path=str(path),
            problem=str(exc),
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise StorageError(
            N_("The site signing key %(path)s is not an Ed25519 key"), path=str(path)
        )
    return key


def public_key_b64(home: DataHome) -> str:
    """Return the raw 32-byte public key of the site signing key, base64."""
    raw = (
        signing_key(home)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode("ascii")
