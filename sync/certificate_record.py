"""A certificate record, its verification code and its Ed25519 signature (issue 16).

Pure functions shared by the site (which signs) and the central server (which verifies with
the key the site registered at sync): no database, no Flask. The signature covers the
record's canonical JSON form: keys sorted, no spaces, UTF-8, so a record read back from any
database signs to the same bytes, and any change to a field makes verification fail.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

RECORD_VERSION = 1
# Crockford base32: no I, L, O, U, so a code read aloud or copied from paper survives typing.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 10  # 50 bits: guessing a valid code among a ministry's certificates is hopeless
_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1"})
RECORD_FIELDS = ("v", "id", "code", "learner", "course", "hours", "issued", "site")


def new_code() -> str:
    """Return a fresh verification code, ``XXXXX-XXXXX``."""
    raw = "".join(secrets.choice(CROCKFORD) for _ in range(CODE_CHARS))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_code(text: str) -> str | None:
    """Return ``text`` as a code ``XXXXX-XXXXX`` (case, spaces, dashes, O/I/L forgiven), or None."""
    raw = "".join(ch for ch in (text or "").upper() if ch.isalnum()).translate(_TYPO)
    if len(raw) != CODE_CHARS or any(ch not in CROCKFORD for ch in raw):
        return None
    return f"{raw[:5]}-{raw[5:]}"


def canonical(record: dict[str, Any]) -> bytes:
    """Return the bytes a record's signature covers."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def sign(key: Ed25519PrivateKey, record: dict[str, Any]) -> str:
    """Return the base64 Ed25519 signature of ``record``'s canonical form."""
    return base64.b64encode(key.sign(canonical(record))).decode("ascii")


def verify(public_key_b64: str, record: dict[str, Any], signature_b64: str) -> bool:
    """Return whether ``signature_b64`` is the signature of ``record`` by ``public_key_b64``."""
    # cryptography is imported here, not at start: building the site app stays light.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        public.verify(base64.b64decode(signature_b64, validate=True), canonical(record))
    except (InvalidSignature, ValueError, binascii.Error, TypeError):
        return False
    return True


def is_record(value: Any) -> bool:
    """Return whether ``value`` has the shape of a version-1 certificate record."""
    return (
        isinstance(value, dict)
        and set(value) == set(RECORD_FIELDS)
        and value.get("v") == RECORD_VERSION
        and isinstance(value.get("learner"), dict)
        and isinstance(value.get("course"), dict)
        and isinstance(value.get("site"), dict)
        and normalize_code(str(value.get("code"))) == value.get("code")
    )
