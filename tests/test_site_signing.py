"""The site's Ed25519 signing key (issue 16): made once, 0600 PEM, stable public half."""

from __future__ import annotations

import base64
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge_server.base import site_signing
from edge_server.base.datahome import DataHome
from edge_server.base.errors import StorageError


def test_key_is_made_at_first_use_private_and_stable(tmp_path):
    home = DataHome(tmp_path / "home").ensure()
    key = site_signing.signing_key(home)
    path = home.secrets / "site-signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    again = site_signing.public_key_b64(home)
    assert len(base64.b64decode(again)) == 32
    assert site_signing.public_key_b64(home) == again
    signature = key.sign(b"record")
    Ed25519PublicKey.from_public_bytes(base64.b64decode(again)).verify(signature, b"record")


def test_each_site_has_its_own_key(tmp_path):
    a = DataHome(tmp_path / "a").ensure()
    b = DataHome(tmp_path / "b").ensure()
    assert site_signing.public_key_b64(a) != site_signing.public_key_b64(b)


def test_a_damaged_key_file_is_a_clear_error_and_is_not_replaced(tmp_path):
    home = DataHome(tmp_path / "home").ensure()
    path = home.secrets / "site-signing.key"
    path.write_text("not a key")
    with pytest.raises(StorageError, match="unreadable"):
        site_signing.signing_key(home)
    assert path.read_text() == "not a key"
