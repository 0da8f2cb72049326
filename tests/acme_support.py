"""Real ACME test parts: BIND (named) taking RFC 2136 updates, Pebble resolving against it.

Both run as child processes on free loopback ports with files in a temporary directory:

* ``Named``: BIND 9 in the foreground (``named -g``), authoritative for one zone, accepting
  dynamic updates signed with a generated TSIG key (what a ministry's DNS server does).
* ``Pebble``: Let's Encrypt's test CA (Debian ``pebble``) with ``-dnsserver`` pointing at
  that BIND, so a DNS-01 challenge passes only when the TXT record really is in the zone.
  Its HTTPS listener uses a certificate from a throw-away CA made here; its own issuing root
  is new at every start and is fetched from its management port.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.livesite import free_port

TSIG_NAME = "kru-central."
TSIG_ALGORITHM = "hmac-sha256"


def free_tcp_udp_port() -> int:
    """Return a port free for both TCP and UDP on 127.0.0.1 (DNS uses both)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free for both TCP and UDP")


def available() -> str | None:
    """Return why the real parts cannot run here, or None when they can."""
    for exe in ("named", "pebble"):
        if shutil.which(exe) is None and not Path(f"/usr/sbin/{exe}").exists():
            return f"{exe} is not installed (apt-get install bind9 pebble; ./dev.sh test does)"
    return None


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text(errors='replace')[-3000:]}")
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start in {timeout}s: {log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class Named:
    """BIND 9 serving ``zone`` on a loopback port, accepting TSIG-signed dynamic updates."""

    def __init__(self, workdir: Path, zone: str) -> None:
        self.dir = workdir
        self.zone = zone.rstrip(".")
        self.port = free_tcp_udp_port()
        self.key_name = TSIG_NAME
        self.key_secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.algorithm = TSIG_ALGORITHM
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "named.log"

    def _write_config(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        zone_file = self.dir / f"{self.zone}.zone"
        zone_file.write_text(
            f"$ORIGIN {self.zone}.\n$TTL 60\n"
            f"@ IN SOA ns1.{self.zone}. hostmaster.{self.zone}. 1 60 60 3600 60\n"
            f"@ IN NS ns1.{self.zone}.\n"
            "ns1 IN A 127.0.0.1\n"
        )
        conf = self.dir / "named.conf"
        conf.write_text(
            f"""key "{self.key_name}" {{ algorithm {self.algorithm}; secret "{self.key_secret}"; }};
options {{
    directory "{self.dir}";
    pid-file none;
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-query {{ any; }};
}};
controls {{ }};
zone "{self.zone}" {{
    type primary;
    file "{zone_file}";
    journal "{self.dir}/{self.zone}.jnl";
    allow-update {{ key "{self.key_name}"; }};
}};
"""
        )
        return conf

    def start(self) -> Named:
        conf = self._write_config()
        named = shutil.which("named") or "/usr/sbin/named"
        # Warm-up: named-checkconf gives a readable error for a broken config.
        checkconf = shutil.which("named-checkconf") or "/usr/sbin/named-checkconf"
        if Path(checkconf).exists():
            subprocess.run([checkconf, str(conf)], check=True, capture_output=True, timeout=30)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [named, "-g", "-4", "-c", str(conf), "-n", "1"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait(lambda: self.query("ns1", "A") == ["127.0.0.1"], 30, "named", self.proc, self.log)
        return self

    def query(self, name: str, rdtype: str) -> list[str]:
        """Return the answers for ``name`` (relative to the zone, or absolute with a dot)."""
        import dns.exception
        import dns.message
        import dns.query
        import dns.rcode

        fqdn = name if name.endswith(".") else f"{name}.{self.zone}."
        try:
            answer = dns.query.udp(
                dns.message.make_query(fqdn, rdtype), "127.0.0.1", port=self.port, timeout=1
            )
        except (dns.exception.Timeout, OSError):
            return []
        if answer.rcode() != dns.rcode.NOERROR:
            return []
        out = []
        for rrset in answer.answer:
            for rdata in rrset:
                text = rdata.to_text()
                out.append(text.strip('"') if rdtype == "TXT" else text)
        return out

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


def make_ca(workdir: Path, hostname: str = "localhost") -> tuple[Path, Path, Path]:
    """Make a throw-away CA and a server certificate for ``hostname``; return the paths.

    Returns (ca certificate, server certificate, server key).
    """
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kru test CA for Pebble")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(hostname),
                    x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    workdir.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = workdir / "ca.pem", workdir / "cert.pem", workdir / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


class Pebble:
    """Pebble on loopback ports, resolving challenge names against ``dns_port``."""

    def __init__(self, workdir: Path, dns_port: int, validity_s: int = 0) -> None:
        self.dir = workdir
        self.dns_port = dns_port
        self.port = free_port()
        self.management_port = free_port()
        self.validity_s = validity_s
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "pebble.log"
        self.ca_path, self.cert_path, self.key_path = make_ca(workdir / "listener")

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def start(self) -> Pebble:
        config: dict = {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(self.cert_path),
            "privateKey": str(self.key_path),
            "httpPort": free_port(),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
        if self.validity_s:
            config["certificateValidityPeriod"] = self.validity_s
        path = self.dir / "pebble-config.json"
        path.write_text(json.dumps({"pebble": config}))
        env = {
            **os.environ,
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": "0",
            "PEBBLE_AUTHZREUSE": "0",
        }
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                ["pebble", "-config", str(path), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

        def up() -> bool:
            try:
                return (
                    requests.get(
                        self.directory_url, verify=str(self.ca_path), timeout=1
                    ).status_code
                    == 200
                )
            except requests.RequestException:
                return False

        _wait(up, 30, "pebble", self.proc, self.log)
        return self

    def root_pem(self) -> str:
        """Return the PEM of the root Pebble issues under (new at every start)."""
        url = f"https://127.0.0.1:{self.management_port}/roots/0"
        return requests.get(url, verify=str(self.ca_path), timeout=5).text

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None
