"""RFC 2136 dynamic DNS updates signed with a TSIG key (dnspython).

Settings (the DNS credentials file, TOML)::

    server = "192.0.2.53"        # the primary name server of the zone (an address)
    port = 53
    zone = "kru.example.gov.kh"  # the zone the site names are in
    key_name = "kru-central."
    key_secret = "base64..."     # the TSIG secret (tsig-keygen prints it)
    key_algorithm = "hmac-sha256"
    timeout_s = 10
    ttl = 60
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

from edge_server.base.errors import N_, ConfigError

from . import DnsError

log = logging.getLogger(__name__)

ALGORITHMS = {
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
}


@dataclass(frozen=True)
class Rfc2136Provider:
    server: str
    zone: str
    key_name: str
    key_secret: str = field(repr=False)
    key_algorithm: str = "hmac-sha256"
    port: int = 53
    timeout_s: float = 10.0
    ttl: int = 60
    wait_s: float = 30.0  # how long to wait for the primary to serve an added record

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Rfc2136Provider:
        """Return the provider for ``config`` (the credentials file).

        Raises:
            ConfigError: a setting is missing or wrong.
        """
        missing = [k for k in ("server", "zone", "key_name", "key_secret") if not config.get(k)]
        if missing:
            raise ConfigError(
                N_("The rfc2136 DNS plug-in needs %(names)s in its credentials file"),
                names=", ".join(missing),
            )
        algorithm = str(config.get("key_algorithm", "hmac-sha256")).lower()
        if algorithm not in ALGORITHMS:
            raise ConfigError(
                N_("key_algorithm must be one of %(names)s"), names=", ".join(ALGORITHMS)
            )
        try:
            ipaddress.ip_address(str(config["server"]))
            base64.b64decode(str(config["key_secret"]), validate=True)
        except (ValueError, binascii.Error) as exc:
            raise ConfigError(
                N_("server must be an IP address and key_secret base64 (%(problem)s)"),
                problem=str(exc),
            ) from exc
        return cls(
            server=str(config["server"]),
            zone=str(config["zone"]).rstrip(".") + ".",
            key_name=str(config["key_name"]),
            key_secret=str(config["key_secret"]),
            key_algorithm=algorithm,
            port=int(config.get("port", 53)),
            timeout_s=float(config.get("timeout_s", 10)),
            ttl=int(config.get("ttl", 60)),
            wait_s=float(config.get("wait_s", 30)),
        )

    def _update(self) -> dns.update.UpdateMessage:
        keyring = dns.tsigkeyring.from_text({self.key_name: self.key_secret})
        return dns.update.UpdateMessage(
            self.zone,
            keyring=keyring,
            keyname=dns.name.from_text(self.key_name),
            keyalgorithm=ALGORITHMS[self.key_algorithm],
        )

    def _send(self, update: dns.update.UpdateMessage, what: str) -> None:
        try:
            answer = dns.query.tcp(update, self.server, port=self.port, timeout=self.timeout_s)
        except dns.tsig.PeerError as exc:
            raise DnsError(
                N_(
                    "The DNS server %(server)s refused the TSIG key %(key)s: check its name and "
                    "secret"
                ),
                server=self.server,
                key=self.key_name,
            ) from exc
        except (dns.exception.DNSException, OSError) as exc:
            raise DnsError(
                N_("The DNS server %(server)s did not take the update (%(what)s): %(problem)s"),
                server=self.server,
                what=what,
                problem=f"{type(exc).__name__}: {exc}",
            ) from exc
        if answer.rcode() != dns.rcode.NOERROR:
            raise DnsError(
                N_("The DNS server %(server)s refused the update (%(what)s): %(problem)s"),
                server=self.server,
                what=what,
                problem=dns.rcode.to_text(answer.rcode()),
            )

    def _relative(self, fqdn: str) -> dns.name.Name:
        name = dns.name.from_text(fqdn)
        zone = dns.name.from_text(self.zone)
        if not name.is_subdomain(zone):
            raise DnsError(N_("%(name)s is not in the zone %(zone)s"), name=fqdn, zone=self.zone)
        return name.relativize(zone)

    def add_txt(self, fqdn: str, value: str) -> None:
        """Add the TXT record and wait until the primary serves it."""
        update = self._update()
        update.add(self._relative(fqdn), self.ttl, dns.rdatatype.TXT, f'"{value}"')
        self._send(update, f"add TXT {fqdn}")
        deadline = time.monotonic() + self.wait_s
        while value not in self._txt(fqdn):
            if time.monotonic() > deadline:
                raise DnsError(
                    N_("The DNS server %(server)s does not serve the new record %(name)s"),
                    server=self.server,
                    name=fqdn,
                )
            time.sleep(0.5)

    def remove_txt(self, fqdn: str, value: str) -> None:
        update = self._update()
        update.delete(self._relative(fqdn), dns.rdatatype.TXT, f'"{value}"')
        self._send(update, f"remove TXT {fqdn}")

    def _txt(self, fqdn: str) -> list[str]:
        query = dns.message.make_query(fqdn, dns.rdatatype.TXT)
        try:
            answer = dns.query.tcp(query, self.server, port=self.port, timeout=self.timeout_s)
        except (dns.exception.DNSException, OSError):
            return []
        return [
            b"".join(rdata.strings).decode()
            for rrset in answer.answer
            if rrset.rdtype == dns.rdatatype.TXT
            for rdata in rrset
        ]
