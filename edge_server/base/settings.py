"""Every setting of a site, described once as data.

The table below drives validation, ``kru config list`` and docs/configuration.md (a test
keeps that page in step). Values are layered: built-in defaults < a TOML file
(``--config`` / ``KRU_CONFIG``) < environment variables ``KRU_*`` < explicit overrides
(the CLI's ``--data-dir``, a test's dict). Types are declared and converted explicitly.

In the TOML file a setting ``sync.batch_size`` is written as ``batch_size`` in a
``[sync]`` table; its environment variable is ``KRU_SYNC_BATCH_SIZE``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, int):
        return value
    return int(str(value).strip())


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    return float(value) if isinstance(value, int | float) else float(str(value).strip())


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected text")
    return value


def _to_list(value: Any) -> list[str]:
    """Lists come as TOML arrays or as comma-separated text in the environment."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    raise ValueError("expected a list")


def _to_path(value: Any) -> Path:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return Path(os.path.expanduser(_to_str(value)))


def _to_time_zone(value: Any) -> str:
    from .localtime import zone  # zoneinfo's data is read when a value is checked

    zone(_to_str(value))
    return value


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "bool": _to_bool,
    "int": _to_int,
    "float": _to_float,
    "str": _to_str,
    "list": _to_list,
    "path": _to_path,
    "time_zone": _to_time_zone,
}


@dataclass(frozen=True)
class Setting:
    name: str
    type: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None

    @property
    def env_var(self) -> str:
        return "KRU_" + self.name.upper().replace(".", "_")

    def convert(self, value: Any) -> Any:
        """Return ``value`` converted to this setting's type.

        Raises:
            ConfigError: the value has the wrong type or is out of range.
        """
        try:
            result = CONVERTERS[self.type](value)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                "Setting %(name)s: %(problem)s", name=self.name, problem=str(exc)
            ) from exc
        if self.choices and result not in self.choices:
            raise ConfigError(
                "Setting %(name)s must be one of %(choices)s, not %(value)s",
                name=self.name,
                choices=", ".join(self.choices),
                value=result,
            )
        if self.minimum is not None and result < self.minimum:
            raise ConfigError(
                "Setting %(name)s must be at least %(minimum)s",
                name=self.name,
                minimum=self.minimum,
            )
        return result


SETTINGS: tuple[Setting, ...] = (
    # --- where things live and how the server runs
    Setting(
        "data_dir",
        "path",
        "~/.kru",
        "Directory holding the database, content store, secrets and logs.",
    ),
    Setting("host", "str", "127.0.0.1", "Address the site server listens on (0.0.0.0 on a Pi)."),
    Setting("port", "int", 8080, "TCP port of the site server.", minimum=1),
    Setting(
        "threads", "int", 8, "waitress worker threads; each holds one request at a time.", minimum=1
    ),
    Setting(
        "connection_limit", "int", 200, "Most open connections waitress accepts at once.", minimum=1
    ),
    Setting(
        "workers",
        "int",
        0,
        "Server processes, each with its own threads; 0: one per core, at most 2 (1 under 6 GB).",
        minimum=0,
    ),
    Setting(
        "trusted_proxies",
        "int",
        0,
        "Reverse proxies in front of the server whose X-Forwarded-For/-Proto/-Host headers are "
        "believed (nginx with TLS: 1); 0: none, the connecting address is the client's.",
        minimum=0,
    ),
    Setting(
        "site_name", "str", "Kru", "Name of this site, shown in the page header and sent at sync."
    ),
    Setting(
        "time_zone",
        "time_zone",
        "Asia/Phnom_Penh",
        "Time zone of the times shown on pages and written in CSV exports, and in which "
        "face-to-face sessions are entered (an IANA name); times are stored in UTC.",
    ),
    Setting(
        "site_kind",
        "str",
        "TEC",
        "TEC (Teacher Education College) or CTC (Community Tech Center).",
        choices=("TEC", "CTC"),
    ),
    Setting("province", "str", "", "Province of this site, used in the ministry's reports."),
    Setting(
        "default_language",
        "str",
        "km",
        "Language of the pages for visitors and new users.",
        choices=("km", "en"),
    ),
    Setting(
        "log_level", "str", "INFO", "Logging level.", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    ),
    Setting("session_days", "int", 30, "Days a sign-in lasts on a phone.", minimum=1),
    # --- passwords and sign-in
    Setting(
        "auth.hash_memory_kib",
        "int",
        16384,
        "Memory per Argon2 password hash in KiB (bounded for a 1 GB Pi).",
        minimum=1024,
    ),
    Setting("auth.hash_time_cost", "int", 2, "Argon2 passes per hash.", minimum=1),
    Setting(
        "auth.hash_concurrency",
        "int",
        2,
        "Password hashes computed at once; more wait their turn.",
        minimum=1,
    ),
    Setting(
        "auth.login_limit",
        "str",
        "10 per minute",
        "Failed sign-in attempts allowed per address and username.",
    ),
    Setting(
        "auth.login_limit_per_address",
        "str",
        "120 per minute",
        "Failed sign-in attempts allowed per address.",
    ),
    Setting(
        "auth.login_limit_per_account",
        "str",
        "30 per hour",
        "Failed sign-in attempts allowed per account from all addresses together; then the "
        "account is locked until the oldest leaves the window or an instructor or admin "
        "unlocks it.",
    ),
    Setting("auth.rate_limit", "bool", True, "Whether sign-in rate limiting is on."),
    # --- content packs
    Setting(
        "packs.max_upload_mb",
        "int",
        2048,
        "Largest pack an instructor may upload, in MB.",
        minimum=1,
    ),
    Setting(
        "submissions.max_upload_mb",
        "int",
        1024,
        "Largest file a learner may submit for a task, in MB (a task may set less).",
        minimum=1,
    ),
    Setting(
        "submissions.quota_mb",
        "int",
        20480,
        "Space for all files learners submit, in MB; new submissions are refused past it.",
        minimum=1,
    ),
    Setting(
        "submissions.retention_days",
        "int",
        0,
        "Days the files of accepted submissions are kept after review (0: keep forever); "
        "kru submissions prune removes older ones, their checksums and reviews stay.",
        minimum=0,
    ),
    Setting(
        "packs.max_uncompressed_mb",
        "int",
        8192,
        "Largest total uncompressed size of a pack, in MB.",
        minimum=1,
    ),
    Setting("packs.max_entries", "int", 20000, "Most files a pack may hold.", minimum=1),
    Setting(
        "packs.max_ratio",
        "int",
        200,
        "Largest compression ratio of one file in a pack (zip bomb guard).",
        minimum=1,
    ),
    Setting(
        "packs.allow_unsigned",
        "bool",
        True,
        "Accept packs without a signature (shown as unsigned).",
    ),
    Setting(
        "packs.trusted_keys",
        "list",
        [],
        "Ed25519 public keys (base64) whose signatures this site trusts.",
    ),
    Setting(
        "packs.usb_roots",
        "list",
        ["/media"],
        "Where removable drives are mounted; packs there are offered to the admin.",
    ),
    # --- sync to the central server
    Setting(
        "sync.central_url", "str", "", "Base URL of the central server; empty until provisioned."
    ),
    Setting("sync.batch_size", "int", 500, "Events per sync batch.", minimum=1),
    Setting(
        "sync.max_batch_size",
        "int",
        5000,
        "Events per sync batch the agent may grow to while the link answers fast.",
        minimum=1,
    ),
    Setting(
        "sync.daily_budget_mb",
        "float",
        50.0,
        "Most megabytes sync may send per day (prepaid SIMs).",
        minimum=0,
    ),
    Setting(
        "sync.daily_download_budget_mb",
        "float",
        0.0,
        "Most megabytes of packs sync may download per day; 0: the same as sync.daily_budget_mb.",
        minimum=0,
    ),
    Setting(
        "sync.download_window",
        "str",
        "",
        "Local time window for pack and Kru release downloads, e.g. 22:00-06:00; empty: any time.",
    ),
    Setting(
        "sync.interval_s", "int", 900, "Seconds between sync attempts of the daemon.", minimum=5
    ),
    Setting(
        "sync.timeout_s", "float", 30.0, "Read timeout of one sync request, in seconds.", minimum=1
    ),
    Setting(
        "sync.connect_timeout_s",
        "float",
        10.0,
        "Connect timeout of one sync request, in seconds.",
        minimum=1,
    ),
    Setting(
        "sync.max_backoff_s", "int", 3600, "Longest wait between retries, in seconds.", minimum=1
    ),
    Setting("sync.backoff_base_s", "float", 2.0, "First wait before a sync retry (s).", minimum=0),
    Setting("sync.max_retries", "int", 6, "Failures in a row before a sync run stops.", minimum=0),
    Setting(
        "sync.machine_id_files",
        "list",
        ["/sys/firmware/devicetree/base/serial-number", "/etc/machine-id"],
        "Where the machine's id is read (the first file that exists): the Raspberry Pi's serial "
        "number, which a copied SD card does not take along, else systemd's machine id. Each "
        "sync sends a fingerprint of it (hashed), so central sees one identity used by two "
        "machines.",
    ),
    # --- cellular modem
    Setting(
        "modem.port",
        "str",
        "auto",
        "Serial port of the modem's AT interface, 'auto' to scan, or 'none'.",
    ),
    Setting("modem.baud", "int", 115200, "Baud rate of the modem's serial port.", minimum=300),
    Setting("modem.timeout_s", "float", 3.0, "Seconds to wait for a modem answer.", minimum=0.1),
    Setting(
        "modem.sms_heartbeat",
        "bool",
        False,
        "Send an SMS heartbeat when there was no data link for long.",
    ),
    Setting(
        "modem.sms_number",
        "str",
        "",
        "Ministry phone number for SMS heartbeats (international format).",
    ),
    Setting("modem.sms_max_per_day", "int", 1, "Most heartbeat SMS per day.", minimum=0),
    Setting(
        "modem.sms_after_hours",
        "float",
        24.0,
        "Hours without a data link before a heartbeat SMS.",
        minimum=0,
    ),
    # --- Wi-Fi
    Setting(
        "wifi.interface",
        "str",
        "wlan0",
        "Wi-Fi interface of the hotspot, for counting connected phones.",
    ),
    # --- HTTPS on the site Wi-Fi (issue 23)
    Setting(
        "https.domain",
        "str",
        "",
        "Ministry domain the site is named under (e.g. kru.example.gov.kh); empty: HTTP only.",
    ),
    Setting(
        "https.site_label",
        "str",
        "",
        "This site's DNS label; empty: the one central assigns (from the provisioned name).",
    ),
    Setting("https.port", "int", 443, "Port the TLS front serves HTTPS on.", minimum=1),
    # --- central server
    Setting(
        "central.database_url",
        "str",
        "",
        "PostgreSQL URL for the central server; empty for SQLite in the data directory.",
    ),
    Setting("central.host", "str", "127.0.0.1", "Address the central server listens on."),
    Setting("central.port", "int", 8090, "TCP port of the central server.", minimum=1),
    Setting(
        "central.public_url",
        "str",
        "",
        "Central server's public URL: written in provisioning files; the base of xAPI ids.",
    ),
    Setting(
        "central.release_keys_dir",
        "path",
        "/etc/kru/release-keys",
        "The folder of release keys central trusts (*.pub, one base64 Ed25519 public key each, "
        "the same files as the sites' releases.keys_dir). Central adds a Kru release only when "
        "one of them signed it; with none there, it adds no release.",
    ),
    Setting(
        "central.xapi_names",
        "bool",
        False,
        "Show learners' names (pages, exports, xAPI statements) and national teacher ids "
        "(pages, exports) on central; off: a pseudonymous id only.",
    ),
    Setting(
        "central.lrs_url",
        "str",
        "",
        "Learning record store (LRS) to forward xAPI statements to (base URL); empty: off.",
    ),
    Setting("central.lrs_username", "str", "", "Basic-auth user name at the LRS."),
    Setting("central.lrs_password", "str", "", "Basic-auth password at the LRS."),
    Setting(
        "central.lrs_batch_size",
        "int",
        100,
        "Statements per request to the learning record store.",
        minimum=1,
    ),
    Setting(
        "central.lrs_timeout_s",
        "float",
        30.0,
        "Seconds to wait for the learning record store's answer.",
        minimum=1,
    ),
    Setting(
        "central.metrics_allow",
        "list",
        ["127.0.0.1", "::1"],
        "Addresses or networks (CIDR) that may read /metrics without a token.",
    ),
    Setting(
        "central.metrics_token",
        "str",
        "",
        "Bearer token that also opens /metrics (from any address); empty: none.",
    ),
    Setting(
        "central.silent_days",
        "int",
        7,
        "Days without contact after which /metrics counts a site as silent.",
        minimum=1,
    ),
    Setting(
        "central.time_zone",
        "time_zone",
        "Asia/Phnom_Penh",
        "The ministry's time zone: days of export filters and times in exports (storage: UTC).",
    ),
    Setting(
        "central.log_format",
        "str",
        "text",
        "Central server log lines: text, or json (one object per line, with the request id).",
        choices=("text", "json"),
    ),
    Setting(
        "central.https_domain",
        "str",
        "",
        "Domain central obtains site certificates under (DNS-01); empty: no certificates.",
    ),
    Setting(
        "central.acme_directory",
        "str",
        "https://acme-v02.api.letsencrypt.org/directory",
        "ACME directory URL of the certificate authority.",
    ),
    Setting("central.acme_email", "str", "", "Contact address given to the certificate authority."),
    Setting(
        "central.acme_ca_bundle",
        "str",
        "",
        "CA file to trust for the ACME server itself (tests); empty: the system's.",
    ),
    Setting(
        "central.dns_provider",
        "str",
        "rfc2136",
        "DNS plug-in that answers DNS-01 challenges (built in: rfc2136; see central-server.md).",
    ),
    Setting(
        "central.dns_credentials",
        "str",
        "",
        "TOML file with the DNS plug-in's settings; empty: secrets/dns.toml in the data dir.",
    ),
    Setting(
        "central.cert_interval_s",
        "int",
        3600,
        "Seconds between passes of `kru central cert daemon`.",
        minimum=5,
    ),
    # --- a site that looks after itself (issue 19)
    Setting(
        "snapshots.interval_s",
        "int",
        3600,
        "Seconds between automatic database snapshots (taken only when something changed); "
        "0 turns them off.",
        minimum=0,
    ),
    Setting("snapshots.keep_hourly", "int", 24, "Newest snapshots kept.", minimum=1),
    Setting(
        "snapshots.keep_daily", "int", 7, "Days for which one snapshot a day is kept.", minimum=0
    ),
    Setting(
        "recovery.code_file",
        "path",
        "/run/kru/recovery-code",
        "Where a server in recovery mode keeps its recovery code (mode 0600) for `kru doctor`; "
        "on a tmpfs (/run), never on the SD card.",
    ),
    Setting(
        "disk.reserve_mb",
        "int",
        1024,
        "Installs and uploads leave at least this much disk free (MB), or disk.reserve_percent "
        "of the disk when that is more: room for the database to grow and for snapshots.",
        minimum=0,
    ),
    Setting(
        "disk.reserve_percent",
        "float",
        5.0,
        "Installs and uploads leave at least this share of the disk free (percent).",
        minimum=0,
    ),
    Setting(
        "disk.warn_mb",
        "int",
        2048,
        "The Site page and sync warn when less than this much disk is free (MB).",
        minimum=0,
    ),
    Setting(
        "backup.usb_root",
        "path",
        "/media/kru",
        "Where the helper mounts USB sticks (one folder per stick); the Site page backs up to "
        "and restores from sticks found here.",
    ),
    Setting(
        "backup.remind_days",
        "int",
        7,
        "The admin's home page reminds them to back up to USB when the last backup is older "
        "than this many days; 0 turns the reminder off.",
        minimum=0,
    ),
    Setting(
        "system.helper",
        "list",
        ["systemctl", "start", "kru-helper@{request}.service"],
        "The command that runs a privileged request (mount or eject a stick, set the clock, "
        "restart Kru); {request} is the request, e.g. mount-sda1-rw. The default starts the "
        "root helper unit that deploy/raspberrypi installs, allowed to kru by a polkit rule.",
    ),
    Setting(
        "releases.keys_dir",
        "path",
        "/etc/kru/release-keys",
        "The folder of release keys this site trusts (*.pub, one base64 Ed25519 public key "
        "each; install.sh puts the image's keys there). A Kru release from central or a USB "
        "stick is installed only when one of them signed it.",
    ),
    Setting(
        "system.throttled_file",
        "path",
        "/sys/devices/platform/soc/soc:firmware/get_throttled",
        "The Raspberry Pi firmware's under-voltage and throttling flags (get_throttled); "
        "missing off a Pi.",
    ),
    Setting(
        "system.clock_synced_file",
        "path",
        "/run/systemd/timesync/synchronized",
        "A file that exists once the system clock was synchronised over the network "
        "(systemd-timesyncd makes it); without it the Site page offers the admin's clock.",
    ),
    Setting(
        "system.sys_block",
        "path",
        "/sys/block",
        "Where the kernel lists block devices; USB sticks that are not mounted are found here.",
    ),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

# Environment variables that are not settings but are read by Kru: the config file path and
# the central database URL under its well-known name.
ENV_ALIASES = {"KRU_CENTRAL_DATABASE_URL": "central.database_url"}


class Settings(Mapping[str, Any]):
    """Resolved settings: ``settings["sync.batch_size"]``, plus where each value came from."""

    def __init__(self, values: dict[str, Any], sources: dict[str, str]) -> None:
        self._values = values
        self.sources = sources

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def data_dir(self) -> Path:
        return self._values["data_dir"]

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` (names with ``__`` for dots) applied."""
        values = dict(self._values)
        sources = dict(self.sources)
        for key, value in changes.items():
            name = key.replace("__", ".")
            values[name] = BY_NAME[name].convert(value)
            sources[name] = "override"
        return Settings(values, sources)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def read_config_file(path: Path) -> dict[str, Any]:
    """Return the settings in a TOML file, flattened to dotted names.

    Raises:
        ConfigError: the file is missing, is not TOML, or names an unknown setting.
    """
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError("Config file %(path)s does not exist", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            "Config file %(path)s is not valid TOML: %(problem)s", path=str(path), problem=str(exc)
        ) from exc
    flat = _flatten(data)
    unknown = sorted(set(flat) - set(BY_NAME))
    if unknown:
        raise ConfigError(
            "Config file %(path)s names unknown settings: %(names)s",
            path=str(path),
            names=", ".join(unknown),
        )
    return flat


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Return settings layered as defaults < config file < ``KRU_*`` variables < overrides.

    ``config_file`` defaults to ``$KRU_CONFIG``. ``environ`` defaults to ``os.environ``.

    Raises:
        ConfigError: a value cannot be converted, or the file or an override is unknown.
    """
    env = os.environ if environ is None else environ
    values = {s.name: s.convert(s.default) for s in SETTINGS}
    sources = {s.name: "default" for s in SETTINGS}

    path = config_file or env.get("KRU_CONFIG")
    if path:
        for name, raw in read_config_file(Path(path)).items():
            values[name] = BY_NAME[name].convert(raw)
            sources[name] = f"file {path}"

    env_names = {s.env_var: s.name for s in SETTINGS} | ENV_ALIASES
    for var, name in env_names.items():
        if var in env:
            values[name] = BY_NAME[name].convert(env[var])
            sources[name] = f"env {var}"

    for key, raw in (overrides or {}).items():
        if raw is None:
            continue
        name = key.replace("__", ".")
        if name not in BY_NAME:
            raise ConfigError("Unknown setting %(name)s", name=name)
        values[name] = BY_NAME[name].convert(raw)
        sources[name] = "override"
    return Settings(values, sources)
