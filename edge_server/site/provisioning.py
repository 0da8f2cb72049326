"""First-boot provisioning: read ``kru-setup.toml`` from the boot partition, check it, apply it.

Device admins write one small file per Pi on the SD card's FAT boot partition. At first boot a
oneshot unit runs ``kru setup first-boot``, which validates the whole file (reporting every
problem at once, in ``kru-setup-errors.txt`` next to it and on the console), then makes every
secret of this device here and now (never in the image: a hundred Pis flashed from one image are
a hundred devices), writes the site settings and the hotspot configuration, creates the admin
account, imports the central server's provisioning file, and finally removes the setup file and
the provisioning file so no password stays on the FAT partition.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

from sync.edge import identity

from .. import accounts
from ..base import passwords
from ..base.datahome import DataHome, write_file_atomically
from ..base.errors import N_, KruError, ValidationError
from ..network import hotspot

log = logging.getLogger(__name__)

SETUP_FILE = "kru-setup.toml"
ERRORS_FILE = "kru-setup-errors.txt"
APPLIED_FILE = "kru-setup-applied.txt"
DONE_MARKER = "setup-done"
SITE_KINDS = ("TEC", "CTC")
KNOWN_KEYS = {
    "site_name",
    "site_code",
    "site_kind",
    "province",
    "wifi_passphrase",
    "wifi_country",
    "admin_username",
    "admin_password",
    "sync_provisioning_file",
}
_CODE = re.compile(r"^[A-Za-z0-9-]{1,27}$")  # "KRU-" + 27 = the 31 bytes an SSID may safely use


class SetupInvalid(KruError):
    """The setup file is missing or wrong; ``problems`` lists every problem, one per line."""

    code = "setup_invalid"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            N_("kru-setup.toml has %(count)s problem(s): %(first)s"),
            count=len(problems),
            first=problems[0],
        )
        self.problems = problems


@dataclass(frozen=True)
class SiteSetup:
    site_name: str
    site_code: str
    site_kind: str
    province: str
    wifi_passphrase: str = field(repr=False)
    wifi_country: str
    admin_username: str
    admin_password: str = field(repr=False)
    sync_provisioning_file: Path | None

    @property
    def ssid(self) -> str:
        return f"KRU-{self.site_code}"


@dataclass(frozen=True)
class Targets:
    """Where first boot writes: the real system on a Pi, a temporary tree in tests."""

    config_file: Path  # /etc/kru/kru.toml
    data_dir: Path  # /var/lib/kru
    etc_dir: Path = Path("/etc")  # hostapd, dnsmasq and avahi files go below it
    templates: Path = Path("/opt/kru/deploy/hotspot")

    @property
    def done_marker(self) -> Path:
        return self.config_file.parent / DONE_MARKER


def ascii_code(name: str) -> str:
    """Return a Wi-Fi-safe code from a site name: Latin letters and digits joined by '-'."""
    words = re.findall(r"[A-Za-z0-9]+", name)
    return "-".join(words)[:27].strip("-")


def _text(raw: dict[str, Any], key: str, problems: list[str], *, required: bool = True) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        problems.append(f"{key} must be text in quotes")
        return ""
    value = value.strip()
    if required and not value:
        problems.append(f"{key} is missing")
    return value


def parse_setup(text: str, boot_dir: Path) -> SiteSetup:
    """Return the setup described by ``text`` (the TOML of kru-setup.toml).

    Raises:
        SetupInvalid: listing every problem found, not only the first.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SetupInvalid([f"the file is not valid TOML: {exc}"]) from exc
    problems: list[str] = []
    for key in sorted(set(raw) - KNOWN_KEYS):
        problems.append(f"unknown key {key} (known: {', '.join(sorted(KNOWN_KEYS))})")

    site_name = _text(raw, "site_name", problems)
    if len(site_name) > 100:
        problems.append("site_name must have at most 100 characters")
    code = _text(raw, "site_code", problems, required=False) or ascii_code(site_name)
    if site_name and not code:
        problems.append("site_code is needed when site_name has no Latin letters (e.g. BTB-TEC)")
    elif code and not _CODE.match(code):
        problems.append("site_code must be 1 to 27 Latin letters, digits or '-'")

    kind = _text(raw, "site_kind", problems).upper()
    if kind and kind not in SITE_KINDS:
        problems.append(f"site_kind must be TEC or CTC, not {kind}")
    province = _text(raw, "province", problems)

    passphrase = raw.get("wifi_passphrase", "")
    if not isinstance(passphrase, str) or not passphrase:
        problems.append("wifi_passphrase is missing")
    elif not 8 <= len(passphrase) <= 63:
        problems.append("wifi_passphrase must have 8 to 63 characters")
    elif not all(32 <= ord(c) < 127 for c in passphrase):
        problems.append("wifi_passphrase may use only Latin letters, digits and punctuation")
    elif passphrase.strip().casefold() in passwords.PLACEHOLDERS:
        problems.append("wifi_passphrase is the example from Kru's instructions; choose your own")
    country = (_text(raw, "wifi_country", problems, required=False) or "KH").upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        problems.append("wifi_country must be a two-letter country code such as KH")

    # The admin account obeys exactly the rules of account creation (issue 12): checked by the
    # same functions, so `kru setup check` cannot pass what first boot then refuses.
    admin = _text(raw, "admin_username", problems, required=False) or "admin"
    try:
        admin = accounts.check_username(admin)
    except ValidationError as exc:
        problems.append(f"admin_username: {exc.message}")
    password = raw.get("admin_password", "")
    if not isinstance(password, str) or not password:
        problems.append("admin_password is missing")
    else:
        try:
            accounts.check_password(password, admin)
        except ValidationError as exc:
            problems.append(f"admin_password: {exc.message}")

    provisioning: Path | None = None
    prov_name = _text(raw, "sync_provisioning_file", problems, required=False)
    if prov_name:
        if "/" in prov_name or "\\" in prov_name or prov_name.startswith("."):
            problems.append("sync_provisioning_file must be a file name on the boot partition")
        else:
            provisioning = boot_dir / prov_name
            problems += _check_provisioning(provisioning)

    if problems:
        raise SetupInvalid(problems)
    return SiteSetup(
        site_name=site_name,
        site_code=code,
        site_kind=kind,
        province=province,
        wifi_passphrase=passphrase,
        wifi_country=country,
        admin_username=admin,
        admin_password=password,
        sync_provisioning_file=provisioning,
    )


def _check_provisioning(path: Path) -> list[str]:
    if not path.is_file():
        return [f"sync_provisioning_file {path.name} is not on the boot partition"]
    try:
        identity.read_provisioning_file(path)
    except KruError as exc:
        return [f"sync_provisioning_file {path.name}: {exc.message}"]
    return []


def read_setup(boot_dir: Path) -> SiteSetup:
    """Return the checked setup from ``boot_dir/kru-setup.toml``.

    Raises:
        SetupInvalid: the file is missing, unreadable or wrong.
    """
    path = boot_dir / SETUP_FILE
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise SetupInvalid(
            [
                f"{SETUP_FILE} is not on the boot partition ({boot_dir}); this Pi is not set "
                "up yet: copy one there (see docs/device-admin-guide.md) and restart"
            ]
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupInvalid([f"{SETUP_FILE} cannot be read: {exc}"]) from exc
    return parse_setup(text, boot_dir)


def site_config_text(config_file: Path, setup: SiteSetup) -> str:
    """Return the TOML config with the site's name, kind and province set, others kept.

    Raises:
        OSError, tomllib.TOMLDecodeError: the config file cannot be read.
    """
    try:
        with open(config_file, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        data = {}
    data.update(site_name=setup.site_name, site_kind=setup.site_kind, province=setup.province)
    return tomli_w.dumps(data)


def create_admin(settings: Any, username: str, password: str) -> None:
    """Create the site admin account, or reset its password when it exists already."""
    from ..base.errors import NotFound
    from .database import open_site

    _home, db = open_site(settings)
    try:
        with db.atomic():
            try:
                existing = accounts.get_user(username=username)
            except NotFound:
                accounts.create_user(username, password, role="admin")
            else:
                accounts.update_user(existing, role="admin", active=True)
                accounts.set_password(existing, password)
    finally:
        db.close()


def make_device_secrets(data_dir: Path) -> None:
    """Create this device's own secrets: the web session key and the sync identity."""
    home = DataHome(data_dir).ensure()
    home.read_or_create_secret("flask_secret_key")
    identity.load_identity(home)


def _shred(path: Path) -> None:
    """Overwrite a file holding secrets with zeros, then delete it (best effort on FAT)."""
    with contextlib.suppress(FileNotFoundError):
        size = path.stat().st_size
        with open(path, "r+b") as fh:
            fh.write(b"\0" * size)
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()


def first_boot(
    boot_dir: Path,
    targets: Targets,
    load_settings: Callable[[], Any],
) -> SiteSetup | None:
    """Apply ``boot_dir/kru-setup.toml`` once; return it, or None when this Pi is set up already.

    A provisioning file named in the setup is imported as ``kru sync provision FILE`` does.
    Everything is read, checked and rendered before the first write (the site config, the
    settings it makes, the admin account's rules, the hotspot templates), so a problem leaves
    this Pi exactly as it was. On a problem the setup file stays (so a fixed file can be tried
    at the next boot) and the problems are written to ``kru-setup-errors.txt`` on the boot
    partition.

    Raises:
        SetupInvalid: the file is missing or wrong (the errors file is written first).
    """
    errors = boot_dir / ERRORS_FILE
    if targets.done_marker.exists() and not (boot_dir / SETUP_FILE).exists():
        return None
    try:
        setup = read_setup(boot_dir)
    except SetupInvalid as exc:
        _write_errors(errors, exc.problems)
        raise
    try:
        plan = _prepare(setup, targets, load_settings)
    except (KruError, OSError, KeyError, ValueError) as exc:
        problem = f"the Pi cannot apply the file: {getattr(exc, 'message', None) or exc}"
        _write_errors(errors, [problem])
        raise SetupInvalid([problem]) from exc
    try:
        _apply(setup, targets, plan)
    except (KruError, OSError) as exc:
        problem = f"applying the file failed: {getattr(exc, 'message', None) or exc}"
        _write_errors(errors, [problem])
        raise SetupInvalid([problem]) from exc
    log.info("first boot applied for %s on port %s", setup.ssid, plan.settings["port"])
    _finish(boot_dir, setup, targets)
    return setup


@dataclass(frozen=True)
class _Plan:
    """What first boot will write, all of it read and checked before anything is written."""

    config_text: str
    settings: Any
    hotspot_files: list[tuple[Path, str, int]]


def _prepare(setup: SiteSetup, targets: Targets, load_settings: Callable[[], Any]) -> _Plan:
    """Read, check and render everything first boot writes; write nothing.

    Raises:
        KruError, OSError, KeyError, ValueError: something first boot would need is wrong.
    """
    config_text = site_config_text(targets.config_file, setup)
    settings = load_settings().replace(
        site_name=setup.site_name, site_kind=setup.site_kind, province=setup.province
    )
    # The account rules again, with this Pi's Kru: `kru setup check` may have been another one.
    accounts.check_username(setup.admin_username)
    accounts.check_password(setup.admin_password, setup.admin_username)
    hotspot_files = hotspot.render_configs(
        targets.templates,
        targets.etc_dir,
        hotspot.HotspotConfig(
            ssid=setup.ssid,
            passphrase=setup.wifi_passphrase,
            country=setup.wifi_country,
            port=settings["port"],
            interface=settings["wifi.interface"],
        ),
    )
    return _Plan(config_text, settings, hotspot_files)


def _apply(setup: SiteSetup, targets: Targets, plan: _Plan) -> None:
    write_file_atomically(targets.config_file, plan.config_text, 0o640)
    make_device_secrets(targets.data_dir)
    create_admin(plan.settings, setup.admin_username, setup.admin_password)
    if setup.sync_provisioning_file is not None:
        identity.provision(DataHome(targets.data_dir), setup.sync_provisioning_file)
    for target, text, mode in plan.hotspot_files:
        write_file_atomically(target, text, mode)


def write_errors(boot_dir: Path, problems: list[str]) -> None:
    """Write ``problems`` to kru-setup-errors.txt on the boot partition (best effort)."""
    _write_errors(boot_dir / ERRORS_FILE, problems)


def _write_errors(path: Path, problems: list[str]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Kru first boot ({stamp}): kru-setup.toml was not applied.", ""]
    lines += [f"- {p}" for p in problems]
    lines += ["", "Fix kru-setup.toml on this card and start the Pi again."]
    try:
        path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")  # read on Windows too
    except OSError as exc:  # a read-only card must not hide the real problem
        log.error("cannot write %s: %s", path, exc)


def _finish(boot_dir: Path, setup: SiteSetup, targets: Targets) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = [
        f"Kru first boot applied kru-setup.toml on {stamp}.",
        f"site_name = {setup.site_name}",
        f"site_kind = {setup.site_kind}",
        f"province = {setup.province}",
        f"Wi-Fi name = {setup.ssid}",
        f"admin account = {setup.admin_username}",
        "Passwords and keys were removed from this partition.",
    ]
    (boot_dir / APPLIED_FILE).write_text("\r\n".join(summary) + "\r\n", encoding="utf-8")
    _shred(boot_dir / SETUP_FILE)
    if setup.sync_provisioning_file is not None:
        _shred(setup.sync_provisioning_file)
    with contextlib.suppress(FileNotFoundError):
        (boot_dir / ERRORS_FILE).unlink()
    targets.done_marker.parent.mkdir(parents=True, exist_ok=True)
    targets.done_marker.write_text(stamp + "\n", encoding="utf-8")
