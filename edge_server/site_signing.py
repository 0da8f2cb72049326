"""The site's own Ed25519 signing key: made at first use, kept in the data home's secrets.

One key per site signs what the site publishes (packs made in the browser editor, and
other site-made documents). The public key is registered at central so other sites trust it.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .datahome import DataHome, write_private_file

KEY_FILE = "site-signing.key"


def signing_key(home: DataHome) -> Ed25519PrivateKey:
    """Return the site's signing key, making it (PEM, mode 0600) on first use."""
    path = home.secrets / KEY_FILE
    if not path.exists():
        home.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Two processes at once: the first file linked wins, both read it back.
        write_private_file(path, pem.decode("ascii"))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"{path} does not hold an Ed25519 private key")
    return key


def public_key_b64(home: DataHome) -> str:
    """Return the site's public key: the 32 raw bytes in base64."""
    raw = (
        signing_key(home)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode("ascii")
