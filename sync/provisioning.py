"""The device provisioning file both ends agree on: the central server writes it for a new
site (``kru central device add``), the site imports it (``kru sync provision FILE``)."""

from __future__ import annotations

import re
import secrets
import uuid

import tomli_w

DEVICE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
SECRET_RE = re.compile(r"^[0-9a-f]{64}$")


def new_device_id() -> str:
    return "site-" + uuid.uuid4().hex[:20]


def new_secret() -> str:
    return secrets.token_hex(32)


def provisioning_toml(
    central_url: str, device_id: str, secret: str, name: str = "", province: str = ""
) -> str:
    """Return the text of a provisioning file (written by the central server)."""
    body = tomli_w.dumps(
        {
            "central_url": central_url,
            "device_id": device_id,
            "secret": secret,
            "name": name,
            "province": province,
        }
    )
    return (
        "# Kru device provisioning file: import on the site with `kru sync provision FILE`.\n"
        "# It holds the device secret: keep it private and delete it once imported.\n" + body
    )
