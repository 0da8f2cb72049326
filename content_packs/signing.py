"""Ed25519 signatures over a pack's canonical manifest bytes, kept in ``manifest.sig``.

``manifest.sig`` is JSON: ``{"algorithm": "ed25519", "public_key": <base64 of the 32 raw
key bytes>, "signature": <base64 of the 64 signature bytes>}``. The manifest lists the
sha256 of every file, so the signature covers the whole pack.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge_server.base.errors import N_

from .errors import BadKey, Problem
from .manifest import MANIFEST, SIGNATURE, canonical_bytes


@dataclass(frozen=True)
class SignatureCheck:
    signed: bool  # a trusted key signed it
    signer_key: str | None  # base64 public key of a signature that verified
    problems: list[Problem]


def public_key_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def generate_key(path: Path) -> str:
    """Write a new private key to ``path`` (mode 0600) and return its public key in base64.

    Raises:
        BadKey: ``path`` already exists (a key is never overwritten).
    """
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise BadKey(N_("%(path)s exists already; choose another file"), path=str(path)) from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return public_key_b64(key.public_key())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key written by ``kru pack keygen``.

    Raises:
        BadKey: the file is missing or holds no Ed25519 private key.
    """
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise BadKey(N_("The key file %(path)s does not exist"), path=str(path)) from exc
    except (ValueError, TypeError) as exc:
        raise BadKey(N_("%(path)s is not a private key file"), path=str(path)) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey(N_("%(path)s is not an Ed25519 private key"), path=str(path))
    return key


def signature_bytes(manifest: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """Return the ``manifest.sig`` content for ``manifest`` signed with ``key``."""
    sig = key.sign(canonical_bytes(manifest))
    body = {
        "algorithm": "ed25519",
        "public_key": public_key_b64(key.public_key()),
        "signature": base64.b64encode(sig).decode("ascii"),
    }
    return json.dumps(body, indent=1).encode("utf-8")


def sign_pack(zip_path: Path, key_path: Path) -> str:
    """Add (or replace) ``manifest.sig`` in the pack at ``zip_path``; return the public key.

    Raises:
        BadKey: the key file is unusable.
        InvalidPack: the zip has no readable manifest.
    """
    from .errors import InvalidPack

    key = load_private_key(key_path)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            manifest = json.loads(zf.read(MANIFEST))
            names = zf.namelist()
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidPack(
            [Problem("manifest_missing", N_("is not a pack with a readable manifest.json"))]
        ) from exc
    sig = signature_bytes(manifest, key)
    if SIGNATURE not in names:
        with zipfile.ZipFile(zip_path, "a") as zf:
            zf.writestr(_entry(SIGNATURE), sig)
        return public_key_b64(key.public_key())
    tmp = zip_path.with_name(f".{zip_path.name}.signing")
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(tmp, "w") as dst:
        for info in src.infolist():
            if info.filename == SIGNATURE:
                continue
            with src.open(info) as fin, dst.open(info, "w") as fout:
                shutil.copyfileobj(fin, fout, 1024 * 1024)
        dst.writestr(_entry(SIGNATURE), sig)
    os.replace(tmp, zip_path)
    return public_key_b64(key.public_key())


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def site_trusted_keys(settings: Any) -> list[str]:
    """Return the keys the site trusts: ``packs.trusted_keys`` and the site's own key.

    A site always trusts what it published itself (issue 17); its key exists once the site
    has published a pack (``edge_server.base.site_signing``), and is never made here.
    """
    from edge_server.base.datahome import DataHome
    from edge_server.base.site_signing import KEY_FILE, public_key_b64

    keys = list(settings["packs.trusted_keys"])
    data_dir = getattr(settings, "data_dir", None)
    if data_dir is not None and (DataHome(Path(data_dir)).secrets / KEY_FILE).is_file():
        keys.append(public_key_b64(DataHome(Path(data_dir))))
    return keys


def _decode_key(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def check_signature(
    manifest: dict[str, Any],
    sig_data: bytes | None,
    trusted_keys: list[str],
    allow_unsigned: bool,
) -> SignatureCheck:
    """Verify ``manifest.sig`` against the manifest and the site's trusted keys.

    A signature that does not verify is always refused. A valid signature by a key the site
    does not trust counts as unsigned; unsigned packs pass only when ``allow_unsigned``.
    """
    if sig_data is None:
        if allow_unsigned:
            return SignatureCheck(False, None, [])
        return SignatureCheck(
            False,
            None,
            [
                Problem(
                    "signature_required",
                    N_("the pack is not signed and this site accepts only signed packs"),
                    SIGNATURE,
                )
            ],
        )
    bad = Problem(
        "signature_invalid",
        N_("the signature does not match the manifest; the pack was changed or damaged"),
        SIGNATURE,
    )
    try:
        body = json.loads(sig_data)
        raw_key = _decode_key(body["public_key"])
        raw_sig = base64.b64decode(body["signature"], validate=True)
        if body.get("algorithm") != "ed25519" or raw_key is None:
            return SignatureCheck(False, None, [bad])
        Ed25519PublicKey.from_public_bytes(raw_key).verify(raw_sig, canonical_bytes(manifest))
    except (ValueError, KeyError, TypeError, binascii.Error, InvalidSignature):
        return SignatureCheck(False, None, [bad])
    signer = base64.b64encode(raw_key).decode("ascii")
    trusted = any(
        (k := _decode_key(text)) is not None and hmac.compare_digest(k, raw_key)
        for text in trusted_keys
    )
    if trusted:
        return SignatureCheck(True, signer, [])
    if allow_unsigned:
        return SignatureCheck(False, signer, [])
    return SignatureCheck(
        False,
        signer,
        [
            Problem(
                "signature_untrusted",
                N_("the pack is signed by a key this site does not trust (%(key)s)"),
                SIGNATURE,
                {"key": signer},
            )
        ],
    )
