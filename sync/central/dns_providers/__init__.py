"""DNS plug-ins: put and remove the TXT records of ACME DNS-01 challenges.

A plug-in is a class with ``from_config(config: dict) -> provider`` and the two methods of
``DnsProvider``. Kru ships ``rfc2136`` (dynamic updates signed with TSIG, which BIND, Knot,
PowerDNS and Windows DNS accept). Others are found by name in the ``kru.dns_providers``
entry point group of installed Python packages, so a ministry can add one for its DNS
host's API without changing Kru (docs/central-server.md, "Adding a DNS plug-in").
"""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from edge_server.base.errors import N_, ConfigError, KruError

ENTRY_POINT_GROUP = "kru.dns_providers"
BUILT_IN = {"rfc2136": "sync.central.dns_providers.rfc2136:Rfc2136Provider"}


class DnsError(KruError):
    """The DNS server refused or did not answer an update."""

    code = "dns_update_failed"
    status = 502


class DnsProvider(Protocol):
    def add_txt(self, fqdn: str, value: str) -> None:
        """Add the TXT record ``value`` at ``fqdn`` and return once the zone serves it.

        Raises:
            DnsError: the update was refused or not answered.
        """

    def remove_txt(self, fqdn: str, value: str) -> None:
        """Remove the TXT record ``value`` at ``fqdn`` (no error when it is not there).

        Raises:
            DnsError: the update was refused or not answered.
        """


def _load_class(spec: str) -> Any:
    import importlib

    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def provider_class(name: str) -> Any:
    """Return the plug-in class called ``name``.

    Raises:
        ConfigError: no built-in plug-in nor installed entry point has this name.
    """
    if name in BUILT_IN:
        return _load_class(BUILT_IN[name])
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()
    known = sorted(set(BUILT_IN) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
    raise ConfigError(
        N_("No DNS plug-in %(name)s (known: %(known)s)"), name=name, known=", ".join(known)
    )


def read_credentials(path: Path) -> dict[str, Any]:
    """Return the plug-in settings in TOML file ``path``.

    Raises:
        ConfigError: the file is missing, not TOML, or readable by others than its owner.
    """
    try:
        mode = path.stat().st_mode
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(
            N_("The DNS credentials file %(path)s does not exist (see central-server.md)"),
            path=str(path),
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            N_("The DNS credentials file %(path)s is not valid TOML: %(problem)s"),
            path=str(path),
            problem=str(exc),
        ) from exc
    if mode & 0o077:
        raise ConfigError(
            N_("The DNS credentials file %(path)s must be readable by its owner only (chmod 600)"),
            path=str(path),
        )
    return data


def load_provider(name: str, credentials: Path) -> DnsProvider:
    """Return plug-in ``name`` configured from the TOML file ``credentials``.

    Raises:
        ConfigError: unknown plug-in, or its settings are missing or wrong.
    """
    return provider_class(name).from_config(read_credentials(credentials))
