"""Obtain a certificate for a site's request by ACME DNS-01 (certbot's ``acme`` library).

Central holds the ACME account key (``secrets/acme_account.json``, mode 0600) and the DNS
credentials; the site's private key never comes here, only its certificate request. One
call runs a whole order: account (made or found), order, one TXT record per authorization
through the DNS plug-in, answer, poll, finalize, download the chain, remove the records.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from acme import challenges, client, errors, messages
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from edge_server.base.datahome import DataHome, write_private_file
from edge_server.base.errors import N_, KruError

from .dns_providers import DnsProvider

log = logging.getLogger(__name__)

ACCOUNT_FILE = "acme_account.json"
USER_AGENT = "kru-central"
NETWORK_TIMEOUT_S = 30
ORDER_TIMEOUT = timedelta(minutes=5)


class AcmeError(KruError):
    """The certificate authority refused or failed an order."""

    code = "acme_failed"
    status = 502


@dataclass(frozen=True)
class AcmeConfig:
    directory_url: str
    email: str = ""
    ca_bundle: str = ""  # a CA file to verify the ACME server with; "" for the system's


def account_key(home: DataHome) -> JWKEC:
    """Return central's ACME account key, making it (P-256, mode 0600) at first use."""
    path = home.secrets / ACCOUNT_FILE
    try:
        return JWKEC.json_loads(path.read_text())
    except FileNotFoundError:
        pass
    key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    home.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private_file(path, json.dumps(key.to_json()))
    return JWKEC.json_loads(path.read_text())


def _client(config: AcmeConfig, key: JWKEC) -> client.ClientV2:
    verify: bool | str = config.ca_bundle or True
    net = client.ClientNetwork(
        key,
        alg=ES256,
        verify_ssl=verify,  # type: ignore[arg-type]  # requests takes a CA file path too
        user_agent=USER_AGENT,
        timeout=NETWORK_TIMEOUT_S,
    )
    directory = client.ClientV2.get_directory(config.directory_url, net)
    acme = client.ClientV2(directory, net=net)
    contact = (f"mailto:{config.email}",) if config.email else ()
    registration = messages.NewRegistration.from_data(terms_of_service_agreed=True)
    if contact:
        registration = messages.NewRegistration(contact=contact, terms_of_service_agreed=True)
    try:
        acme.new_account(registration)
    except errors.ConflictError as exc:  # this key has an account already
        acme.query_registration(
            messages.RegistrationResource(uri=exc.location, body=messages.Registration())
        )
    return acme


def issue(csr_pem: bytes, config: AcmeConfig, home: DataHome, dns: DnsProvider) -> str:
    """Obtain and return the PEM chain (leaf first) for certificate request ``csr_pem``.

    Raises:
        AcmeError: the CA refused the account, order or a challenge, or timed out.
        DnsError: the DNS plug-in could not publish a challenge record.
    """
    key = account_key(home)
    published: list[tuple[str, str]] = []
    try:
        acme = _client(config, key)
        order = acme.new_order(csr_pem)
        answers = []
        for authz in order.authorizations:
            domain = authz.body.identifier.value
            dns01 = next(
                (c for c in authz.body.challenges if isinstance(c.chall, challenges.DNS01)), None
            )
            if dns01 is None:
                raise AcmeError(N_("The CA offers no DNS-01 challenge for %(name)s"), name=domain)
            record = dns01.chall.validation_domain_name(domain)
            value = dns01.chall.validation(key)
            dns.add_txt(record, value)
            published.append((record, value))
            answers.append(dns01)
        for challenge in answers:
            acme.answer_challenge(challenge, challenge.chall.response(key))
        deadline = datetime.now() + ORDER_TIMEOUT  # the acme library's clock
        done = acme.poll_and_finalize(order, deadline)
    except (errors.Error, messages.Error) as exc:
        raise AcmeError(
            N_("The certificate authority refused: %(problem)s"), problem=str(exc)[:500]
        ) from exc
    except (OSError, ValueError) as exc:  # requests' errors derive from OSError
        raise AcmeError(
            N_("The certificate authority could not be reached: %(problem)s"),
            problem=f"{type(exc).__name__}: {str(exc)[:300]}",
        ) from exc
    finally:
        for record, value in published:
            try:
                dns.remove_txt(record, value)
            except KruError:
                log.warning("could not remove the challenge record %s", record)
    log.info("certificate issued at %s", datetime.now(UTC).isoformat(timespec="seconds"))
    return done.fullchain_pem
