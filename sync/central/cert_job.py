"""The certificate job: issue and renew site certificates outside any web request.

``kru central cert run`` makes one pass; ``kru central cert daemon`` (a systemd service on
the central server, docs/central-server.md) makes one every ``central.cert_interval_s``.
Many central processes may run it at once: rows are claimed in the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from edge_server.base.datahome import DataHome
from edge_server.base.errors import N_, ConfigError
from edge_server.base.settings import Settings

from . import site_certs

log = logging.getLogger(__name__)

DNS_CREDENTIALS = "dns.toml"


def credentials_path(settings: Settings, home: DataHome) -> Path:
    configured = settings["central.dns_credentials"]
    return Path(configured).expanduser() if configured else home.secrets / DNS_CREDENTIALS


def make_issuer(settings: Settings, home: DataHome) -> Callable[[bytes], str]:
    """Return ``issue(csr_pem) -> chain PEM`` for the configured CA and DNS plug-in.

    Raises:
        ConfigError: no domain, an unknown DNS plug-in or unusable DNS credentials.
    """
    from . import acme_issuer  # the acme library is needed only here
    from .dns_providers import load_provider

    if not settings["central.https_domain"]:
        raise ConfigError(
            N_("Set central.https_domain to the domain site certificates are issued under")
        )
    dns = load_provider(settings["central.dns_provider"], credentials_path(settings, home))
    config = acme_issuer.AcmeConfig(
        directory_url=settings["central.acme_directory"],
        email=settings["central.acme_email"],
        ca_bundle=settings["central.acme_ca_bundle"],
    )

    def issue(csr_pem: bytes) -> str:
        return acme_issuer.issue(csr_pem, config, home, dns)

    return issue


def run_once(
    settings: Settings,
    home: DataHome,
    *,
    device_id: str | None = None,
    now: datetime | None = None,
) -> list[site_certs.Outcome]:
    """Issue or renew what is due (for one device when ``device_id``); return the outcomes.

    Raises:
        ConfigError: see ``make_issuer``.
    """
    return site_certs.run_pass(make_issuer(settings, home), now=now, device_id=device_id)


def run_daemon(settings: Settings, home: DataHome, stop: threading.Event | None = None) -> None:
    """Run a pass every ``central.cert_interval_s`` seconds until ``stop`` (or SIGTERM)."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            for outcome in run_once(settings, home):
                log.info("certificate %s: %s", outcome.name, outcome.message)
        except Exception:  # the daemon outlives any one failure
            log.exception("certificate pass failed")
        stop.wait(settings["central.cert_interval_s"])
