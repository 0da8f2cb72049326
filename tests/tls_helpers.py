"""Certificates for the site's own key, signed by a throw-away CA (no ACME server needed)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge_server.base import site_tls
from edge_server.base.datahome import DataHome


def issue_for_site(
    home: DataHome,
    name: str,
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> bytes:
    """Return a PEM chain (leaf, CA) for ``name`` on the site's key, as central would send."""
    now = dt.datetime.now(dt.UTC)
    key = site_tls.ensure_key(home)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kru test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + dt.timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=89))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    enc = serialization.Encoding.PEM
    return leaf.public_bytes(enc) + ca.public_bytes(enc)


def install_raw(home: DataHome, pem: bytes) -> None:
    """Write ``pem`` as the installed chain without checks (an expired one, for tests)."""
    path = site_tls.TlsPaths.of(home).chain
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem)
