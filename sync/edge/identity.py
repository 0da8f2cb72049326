"""The site's device identity: device id and secret, in the data home's secrets (mode 0600).

A site that was never provisioned makes its own identity at first use. The file records the
machine id it was made on, so a Pi cloned from an image that already held one makes a fresh
identity instead of sharing it. ``kru sync provision FILE`` replaces it with the identity
the ministry registered (``kru central device add``).
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import tomli_w

from edge_server.base.datahome import DataHome, write_private_file
from edge_server.base.errors import N_, ValidationError

from ..provisioning import DEVICE_ID_RE, SECRET_RE, new_device_id, new_secret

log = logging.getLogger(__name__)

IDENTITY_FILE = "sync_identity.toml"
MACHINE_ID_FILE = Path("/etc/machine-id")


@dataclass(frozen=True)
class Identity:
    device_id: str
    secret: str
    central_url: str = ""
    provisioned: bool = False
    name: str = ""
    machine_id: str = ""


class ProvisioningError(ValidationError):
    code = "bad_provisioning_file"


def current_machine_id() -> str:
    """Return this machine's id (systemd's /etc/machine-id), or an empty string."""
    try:
        return MACHINE_ID_FILE.read_text().strip()
    except OSError:
        return ""


def _path(home: DataHome) -> Path:
    return home.secrets / IDENTITY_FILE


def _to_toml(identity: Identity) -> str:
    return "# Kru device identity: keep secret, never copy to another device\n" + tomli_w.dumps(
        {
            "device_id": identity.device_id,
            "secret": identity.secret,
            "central_url": identity.central_url,
            "provisioned": identity.provisioned,
            "name": identity.name,
            "machine_id": identity.machine_id,
        }
    )


def _read(path: Path) -> Identity | None:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        return Identity(
            device_id=str(data["device_id"]),
            secret=str(data["secret"]),
            central_url=str(data.get("central_url", "")),
            provisioned=bool(data.get("provisioned", False)),
            name=str(data.get("name", "")),
            machine_id=str(data.get("machine_id", "")),
        )
    except FileNotFoundError:
        return None
    except (tomllib.TOMLDecodeError, KeyError, OSError):
        log.warning("device identity file %s is unreadable; making a new identity", path)
        return None


def load_identity(home: DataHome, machine_id: str | None = None) -> Identity:
    """Return this site's identity, making one at first use (or on a cloned machine)."""
    machine = current_machine_id() if machine_id is None else machine_id
    path = _path(home)
    found = _read(path)
    if found is not None and (found.provisioned or found.machine_id == machine):
        return found
    home.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    made = Identity(new_device_id(), new_secret(), machine_id=machine)
    if found is None:
        write_private_file(path, _to_toml(made))  # two processes at once: the first wins
        return _read(path) or made
    log.warning("identity %s was made on another machine; making a new one", found.device_id)
    write_private_file(path, _to_toml(made), replace=True)
    return made


def read_provisioning_file(path: Path) -> Identity:
    """Return the identity in a provisioning file made by ``kru central device add``.

    Raises:
        ProvisioningError: the file is missing, not TOML, or lacks a valid field.
    """
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ProvisioningError(
            N_("Provisioning file %(path)s does not exist"), path=str(path)
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProvisioningError(
            N_("Provisioning file %(path)s is not valid TOML"), path=str(path)
        ) from exc
    device_id = data.get("device_id")
    secret = data.get("secret")
    url = data.get("central_url")
    if not isinstance(device_id, str) or not DEVICE_ID_RE.match(device_id):
        problem = "device_id"
    elif not isinstance(secret, str) or not SECRET_RE.match(secret):
        problem = "secret"
    elif not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        problem = "central_url"
    else:
        return Identity(
            device_id=device_id,
            secret=secret,
            central_url=url.rstrip("/"),
            provisioned=True,
            name=str(data.get("name", "")),
        )
    raise ProvisioningError(
        N_("Provisioning file %(path)s has no valid %(field)s"), path=str(path), field=problem
    )


def provision(home: DataHome, path: Path) -> Identity:
    """Replace this site's identity with the one in provisioning file ``path``.

    Raises:
        ProvisioningError: the file is not a valid provisioning file (nothing changes).
    """
    identity = read_provisioning_file(path)
    home.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private_file(_path(home), _to_toml(identity), replace=True)
    log.info("provisioned as device %s for %s", identity.device_id, identity.central_url)
    return identity


def central_url(identity: Identity, configured: str) -> str:
    """Return the central URL to use: the ``sync.central_url`` setting, else the provisioned."""
    return (configured or identity.central_url).rstrip("/")
