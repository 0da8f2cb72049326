"""The device registry and the central server's own accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from peewee import IntegrityError

from edge_server.base import passwords
from edge_server.base.errors import N_, Conflict, NotFound, ValidationError
from sync.provisioning import DEVICE_ID_RE, new_device_id, new_secret, provisioning_toml

from .db import database
from .models import CENTRAL_ROLES, CentralSession, CentralUser, Device

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


@dataclass(frozen=True)
class NewDevice:
    device: Device
    provisioning: str


def add_device(
    name: str, central_url: str, province: str = "", device_id: str | None = None
) -> NewDevice:
    """Register a site and return it with the text of its provisioning file.

    Raises:
        ValidationError: empty name, bad device id, or no central URL.
        Conflict: the device id is taken.
    """
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError(
            N_("The site name must have 1 to 200 characters"), code="invalid_name"
        )
    if not central_url.startswith(("http://", "https://")):
        raise ValidationError(
            N_("Give the URL sites reach this server at (--url or central.public_url)"),
            code="invalid_url",
        )
    device_id = device_id or new_device_id()
    if not DEVICE_ID_RE.match(device_id):
        raise ValidationError(
            N_("Device id %(id)s is not valid"), code="invalid_device_id", id=device_id
        )
    secret = new_secret()
    try:
        device = Device.create(
            device_id=device_id, name=name, province=(province or "").strip(), secret=secret
        )
    except IntegrityError as exc:
        raise Conflict(
            N_("Device %(id)s is already registered"), code="device_exists", id=device_id
        ) from exc
    text = provisioning_toml(central_url.rstrip("/"), device_id, secret, name, device.province)
    return NewDevice(device, text)


def get_device(device_id: str) -> Device:
    """Raises: NotFound when no device has this id."""
    device = Device.get_or_none(Device.device_id == device_id)
    if device is None:
        raise NotFound(N_("No device %(id)s"), code="device_not_found", id=device_id)
    return device


def set_enabled(device_id: str, enabled: bool) -> Device:
    """Enable or disable a device; a disabled device's requests get 403.

    Raises:
        NotFound: no such device.
    """
    device = get_device(device_id)
    device.enabled = enabled
    device.save()
    return device


def list_devices() -> list[Device]:
    return list(Device.select().order_by(Device.province, Device.name))


def add_user(username: str, password: str, role: str) -> CentralUser:
    """Create a central account (admin or viewer).

    Raises:
        ValidationError: bad username or unknown role; WeakPassword: the password breaks the
            rule every Kru password follows (``edge_server.base.passwords``).
        Conflict: the username is taken.
    """
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            N_("Username %(username)s is not valid"), code="invalid_username", username=username
        )
    passwords.check_new_password(password, username)
    _check_role(role)
    try:
        return CentralUser.create(
            username=username, password_hash=passwords.hasher().hash(password), role=role
        )
    except IntegrityError as exc:
        raise Conflict(
            N_("Username %(username)s is already taken"), code="username_taken", username=username
        ) from exc


def _check_role(role: str) -> str:
    if role not in CENTRAL_ROLES:
        raise ValidationError(
            N_("Role %(role)s is not one of admin, viewer"), code="invalid_role", role=role
        )
    return role


def get_user(username: str) -> CentralUser:
    """Raises: NotFound when no central account has this username."""
    user = CentralUser.get_or_none(CentralUser.username == (username or "").strip().lower())
    if user is None:
        raise NotFound(N_("No user %(user)s"), code="user_not_found", user=username)
    return user


def end_sessions(user: CentralUser) -> int:
    """End every sign-in session of ``user``; return how many there were."""
    return CentralSession.delete().where(CentralSession.user == user.id).execute()


def set_password(username: str, password: str) -> CentralUser:
    """Set a new password and end every session of the account.

    Raises:
        NotFound: no such account. WeakPassword: the password breaks the rule.
    """
    user = get_user(username)
    passwords.check_new_password(password, user.username)
    user.password_hash = passwords.hasher().hash(password)
    with database.atomic():
        user.save()
        end_sessions(user)
    return user


def update_user(username: str, role: str | None = None, active: bool | None = None) -> CentralUser:
    """Change an account's role or whether it may sign in; either ends its sessions.

    Raises:
        NotFound: no such account. ValidationError: unknown role.
    """
    user = get_user(username)
    was = (user.role, bool(user.active))
    if role is not None:
        user.role = _check_role(role)
    if active is not None:
        user.active = bool(active)
    with database.atomic():
        user.save()
        if user.role != was[0] or (was[1] and not user.active):
            end_sessions(user)
    return user


def authenticate(username: str, password: str) -> CentralUser | None:
    """Return the active account with these credentials, or None."""
    user = CentralUser.get_or_none(CentralUser.username == (username or "").strip().lower())
    if user is None or not user.active:
        passwords.hasher().dummy_verify()
        return None
    return user if passwords.hasher().verify(user.password_hash, password or "") else None
