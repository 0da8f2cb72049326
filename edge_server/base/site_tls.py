"""The site's HTTPS name, private key, certificate request and installed certificate.

The key is made here and never leaves the Pi (``secrets/https.key``, mode 0600). The
certificate request (CSR) goes to the central server at sync; the chain central obtains
comes back and is installed in ``https/fullchain.pem`` only when it is whole: it parses, is
for this site's name, is valid now and belongs to this key. A root-owned helper
(deploy/raspberrypi/bin/kru-tls-apply, started by a systemd path unit) then copies it to the
TLS front and reloads it. See docs/device-admin-guide.md, "HTTPS on the site Wi-Fi".
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .datahome import DataHome, write_file_atomically
from .errors import N_, ValidationError

log = logging.getLogger(__name__)

KEY_FILE = "https.key"  # in the data home's secrets
DIR = "https"
CSR_FILE = "request.csr"
CHAIN_FILE = "fullchain.pem"
RENEW_AT = 2 / 3  # central renews when this share of the lifetime has passed
NEAR_EXPIRY = timedelta(days=14)  # the admin page warns from here on
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DOMAIN = re.compile(r"^(?=.{1,200}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

# Certificate states, shown on the admin page.
OFF = "off"  # no domain configured
WAITING = "waiting"  # request made, no certificate yet
VALID = "valid"
RENEWAL_DUE = "renewal_due"  # past 2/3 of its life: central should have renewed by now
NEAR_EXPIRY_STATE = "near_expiry"
LAPSED = "lapsed"


class CertificateRejected(ValidationError):
    """A certificate chain that must not be installed."""

    code = "bad_certificate"


def slug_label(text: str) -> str:
    """Return a DNS label from a site name: Latin letters and digits joined by '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)
    return "-".join(words)[:63].strip("-")


def check_domain(domain: str) -> str:
    """Return ``domain`` lower case without a final dot.

    Raises:
        ValidationError: not a DNS domain of at least two labels.
    """
    name = domain.strip().rstrip(".").lower()
    if not _DOMAIN.match(name):
        raise ValidationError(
            N_("%(domain)s is not a DNS domain such as kru.example.gov.kh"),
            code="invalid_domain",
            domain=domain,
        )
    return name


def site_name(settings: Any, provisioned_label: str = "", provisioned_name: str = "") -> str:
    """Return this site's HTTPS name ``<label>.<https.domain>``, or "" when HTTPS is off.

    The label is ``https.site_label``, else the one in the provisioning file, else made from
    the provisioned site name.

    Raises:
        ValidationError: the domain or label is not usable in DNS.
    """
    domain = settings["https.domain"]
    if not domain:
        return ""
    domain = check_domain(domain)
    label = settings["https.site_label"] or provisioned_label or slug_label(provisioned_name)
    if not _LABEL.match(label or ""):
        raise ValidationError(
            N_("The site label %(label)s is not a DNS label; set https.site_label"),
            code="invalid_label",
            label=label,
        )
    return f"{label}.{domain}"


@dataclass(frozen=True)
class TlsPaths:
    key: Path
    csr: Path
    chain: Path

    @classmethod
    def of(cls, home: DataHome) -> TlsPaths:
        root = home.root / DIR
        return cls(home.secrets / KEY_FILE, root / CSR_FILE, root / CHAIN_FILE)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        return None
    except ValueError:
        log.warning("HTTPS key %s is unreadable; making a new one", path)
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def ensure_key(home: DataHome) -> ec.EllipticCurvePrivateKey:
    """Return this site's HTTPS private key, making it (P-256, mode 0600) at first use."""
    paths = TlsPaths.of(home)
    key = _load_key(paths.key)
    if key is not None:
        return key
    home.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_file_atomically(paths.key, pem.decode(), 0o600)
    return key


def _csr_names(csr: x509.CertificateSigningRequest) -> list[str]:
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]


def ensure_csr(home: DataHome, name: str) -> bytes:
    """Return the PEM certificate request for ``name`` under this site's key.

    Made again when the name changed or the key was replaced.
    """
    key = ensure_key(home)
    paths = TlsPaths.of(home)
    try:
        csr = x509.load_pem_x509_csr(paths.csr.read_bytes())
        if _csr_names(csr) == [name] and _same_key(csr.public_key(), key):
            return paths.csr.read_bytes()
    except (FileNotFoundError, ValueError):
        pass
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = csr.public_bytes(serialization.Encoding.PEM)
    write_file_atomically(paths.csr, pem.decode(), 0o644)
    return pem


def _same_key(public: Any, key: ec.EllipticCurvePrivateKey) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def _leaf_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]


def check_chain(
    pem: bytes, name: str, key: ec.EllipticCurvePrivateKey, now: datetime | None = None
) -> list[x509.Certificate]:
    """Return the certificates of ``pem`` when it is a chain this site may serve.

    Raises:
        CertificateRejected: not PEM certificates, another name, another key, not valid now,
            or an intermediate that did not issue the certificate before it.
    """
    now = now or datetime.now(UTC)
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CertificateRejected(N_("The certificate is not in PEM form")) from exc
    leaf = chain[0]
    if name not in _leaf_names(leaf):
        raise CertificateRejected(
            N_("The certificate is not for %(name)s"), code="certificate_name", name=name
        )
    if not _same_key(leaf.public_key(), key):
        raise CertificateRejected(
            N_("The certificate does not belong to this site's key"), code="certificate_key"
        )
    if not leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc:
        raise CertificateRejected(
            N_("The certificate is not valid now (%(start)s to %(end)s)"),
            code="certificate_dates",
            start=leaf.not_valid_before_utc.isoformat(),
            end=leaf.not_valid_after_utc.isoformat(),
        )
    for child, parent in zip(chain, chain[1:], strict=False):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, Exception) as exc:  # InvalidSignature too
            raise CertificateRejected(
                N_("The certificate chain is broken"), code="certificate_chain"
            ) from exc
    return chain


def install_chain(home: DataHome, pem: bytes, name: str, now: datetime | None = None) -> str:
    """Check ``pem`` and make it the served chain (atomically); return its sha256.

    Raises:
        CertificateRejected: the chain may not be served (nothing changes).
    """
    key = ensure_key(home)
    check_chain(pem, name, key, now)
    path = TlsPaths.of(home).chain
    write_file_atomically(path, pem.decode(), 0o644)
    log.info("installed the HTTPS certificate for %s", name)
    return hashlib.sha256(pem).hexdigest()


def installed_sha256(home: DataHome) -> str:
    """Return the sha256 of the installed chain, or ""."""
    try:
        return hashlib.sha256(TlsPaths.of(home).chain.read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""


@dataclass(frozen=True)
class CertStatus:
    state: str
    name: str = ""
    not_before: datetime | None = None
    not_after: datetime | None = None
    renew_after: datetime | None = None
    problem: str = ""

    @property
    def serving(self) -> bool:
        """Whether HTTPS is up: a valid certificate for this site's name is installed."""
        return self.state in (VALID, RENEWAL_DUE, NEAR_EXPIRY_STATE)

    @property
    def days_left(self) -> int | None:
        if self.not_after is None:
            return None
        return max(0, (self.not_after - datetime.now(UTC)).days)


def status(home: DataHome, name: str, now: datetime | None = None) -> CertStatus:
    """Return the state of this site's certificate for ``name`` ("" when HTTPS is off)."""
    if not name:
        return CertStatus(OFF)
    now = now or datetime.now(UTC)
    try:
        pem = TlsPaths.of(home).chain.read_bytes()
    except FileNotFoundError:
        return CertStatus(WAITING, name)
    key = _load_key(TlsPaths.of(home).key)
    try:
        leaf = x509.load_pem_x509_certificates(pem)[0]
    except ValueError:
        return CertStatus(WAITING, name, problem="unreadable")
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    renew = start + (end - start) * RENEW_AT
    if key is None or not _same_key(leaf.public_key(), key) or name not in _leaf_names(leaf):
        return CertStatus(WAITING, name, start, end, renew, problem="other name or key")
    if now >= end:
        state = LAPSED
    elif now >= end - NEAR_EXPIRY:
        state = NEAR_EXPIRY_STATE
    elif now >= renew:
        state = RENEWAL_DUE
    elif now < start:
        state = WAITING
    else:
        state = VALID
    return CertStatus(state, name, start, end, renew)


def chain_mtime(home: DataHome) -> float:
    """Return the installed chain's modification time (0 when there is none), for caching."""
    try:
        return os.stat(TlsPaths.of(home).chain).st_mtime
    except FileNotFoundError:
        return 0.0


def serving_name(home: DataHome, now: datetime | None = None) -> tuple[str, datetime | None]:
    """Return (name, expiry) of the installed chain when it is servable now, else ("", None).

    Servable: it parses, belongs to this site's key, names a host and has started.
    """
    try:
        pem = TlsPaths.of(home).chain.read_bytes()
        leaf = x509.load_pem_x509_certificates(pem)[0]
    except (FileNotFoundError, ValueError):
        return "", None
    key = _load_key(TlsPaths.of(home).key)
    names = _leaf_names(leaf)
    now = now or datetime.now(UTC)
    if key is None or not names or not _same_key(leaf.public_key(), key):
        return "", None
    if now < leaf.not_valid_before_utc:
        return "", None
    return names[0], leaf.not_valid_after_utc
