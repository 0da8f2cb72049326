"""First boot against a fake boot partition: a good file, a bad file, a missing file."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_server.base.db import db
from edge_server.cli.main import get_cli

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "deploy" / "raspberrypi" / "hotspot"

GOOD = """\
site_name = "TEC Battambang"
site_kind = "TEC"
province = "Battambang"
wifi_passphrase = "rice-field-42"
admin_password = "ministry-admin-1"
"""


class Pi:
    """One Pi as first boot sees it: a boot folder, /etc/kru, /var/lib/kru and /etc below tmp."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.boot = root / "boot"
        self.etc = root / "etc"
        self.config = self.etc / "kru" / "kru.toml"
        self.data = root / "var-lib-kru"
        self.boot.mkdir(parents=True)
        self.config.parent.mkdir(parents=True)
        # what install.sh writes
        self.config.write_text('host = "0.0.0.0"\nport = 80\n')

    def first_boot(self):  # click Result
        args = ["--config", str(self.config), "--data-dir", str(self.data), "setup", "first-boot"]
        args += ["--boot-dir", str(self.boot), "--etc-dir", str(self.etc)]
        args += ["--templates", str(TEMPLATES)]
        result = CliRunner().invoke(get_cli(), args)
        if not db.is_closed():
            db.close()
        return result


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("KRU_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("KRU_AUTH_HASH_MEMORY_KIB", "1024")
    monkeypatch.setenv("KRU_AUTH_HASH_TIME_COST", "1")


@pytest.fixture
def make_pi(tmp_path: Path):
    def make(name: str = "pi", setup: str | None = GOOD) -> Pi:
        pi = Pi(tmp_path / name)
        if setup is not None:
            (pi.boot / "kru-setup.toml").write_text(setup, encoding="utf-8")
        return pi

    return make


def test_good_file_sets_site_name_kind_and_province(make_pi):
    pi = make_pi()
    result = pi.first_boot()
    assert result.exit_code == 0, result.output
    config = tomllib.loads(pi.config.read_text())
    assert config["site_name"] == "TEC Battambang"
    assert config["site_kind"] == "TEC"
    assert config["province"] == "Battambang"
    assert config["port"] == 80  # install.sh's settings stay


def test_good_file_creates_admin_who_can_sign_in(make_pi):
    pi = make_pi()
    assert pi.first_boot().exit_code == 0
    from edge_server import accounts
    from edge_server.base import passwords
    from edge_server.base.datahome import DataHome
    from edge_server.site import database as schema

    passwords.configure(1024, 1, 1)
    schema.open_database(DataHome(pi.data))
    try:
        user = accounts.authenticate("admin", "ministry-admin-1")
        assert user is not None and user.role == "admin"
    finally:
        db.close()


def test_good_file_writes_wpa2_hotspot_named_from_site(make_pi):
    pi = make_pi()
    assert pi.first_boot().exit_code == 0
    hostapd = pi.etc / "hostapd" / "hostapd.conf"
    text = hostapd.read_text()
    assert "\nssid=KRU-TEC-Battambang\n" in text
    assert "\nwpa=2\n" in text and "\nwpa_passphrase=rice-field-42\n" in text
    assert hostapd.stat().st_mode & 0o077 == 0  # the passphrase is for root only


def test_good_file_leaves_no_secret_on_boot_partition(make_pi):
    pi = make_pi()
    assert pi.first_boot().exit_code == 0
    names = sorted(p.name for p in pi.boot.iterdir())
    assert names == ["kru-setup-applied.txt"]
    summary = (pi.boot / "kru-setup-applied.txt").read_text()
    assert "TEC Battambang" in summary
    assert "rice-field-42" not in summary and "ministry-admin-1" not in summary


def test_second_boot_without_file_does_nothing(make_pi):
    pi = make_pi()
    assert pi.first_boot().exit_code == 0
    before = (pi.etc / "hostapd" / "hostapd.conf").stat().st_mtime_ns
    result = pi.first_boot()
    assert result.exit_code == 0
    assert "set up already" in result.output
    assert (pi.etc / "hostapd" / "hostapd.conf").stat().st_mtime_ns == before


def _secrets(pi: Pi) -> dict[str, str]:
    return {p.name: p.read_text() for p in (pi.data / "secrets").iterdir()}


def test_two_first_boots_from_one_image_make_two_devices(make_pi):
    one, two = make_pi("one"), make_pi("two")
    assert one.first_boot().exit_code == 0
    assert two.first_boot().exit_code == 0
    a, b = _secrets(one), _secrets(two)
    assert a.keys() == b.keys() and "flask_secret_key" in a
    for name in a:
        assert a[name] != b[name], f"{name} is shared by two Pis"


def test_two_first_boots_give_two_sync_device_ids(make_pi):
    from edge_server.base.datahome import DataHome
    from sync.edge import identity

    one, two = make_pi("one"), make_pi("two")
    assert one.first_boot().exit_code == 0 and two.first_boot().exit_code == 0
    id_one = identity.load_identity(DataHome(one.data)).device_id
    id_two = identity.load_identity(DataHome(two.data)).device_id
    assert id_one != id_two


def test_provisioning_file_is_imported_and_removed(make_pi):
    from edge_server.base.datahome import DataHome
    from sync import provisioning
    from sync.edge import identity

    pi = make_pi(setup=GOOD + 'sync_provisioning_file = "kru-device.toml"\n')
    secret = "ab" * 32
    (pi.boot / "kru-device.toml").write_text(
        provisioning.provisioning_toml("https://kru.example.gov.kh", "site-btb-01", secret)
    )
    assert pi.first_boot().exit_code == 0
    found = identity.load_identity(DataHome(pi.data))
    assert (found.device_id, found.secret) == ("site-btb-01", secret)
    assert not (pi.boot / "kru-device.toml").exists()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("site_kind", '"SCHOOL"'), "site_kind must be TEC or CTC"),
        (("wifi_passphrase", '"short"'), "wifi_passphrase must have 8 to 63 characters"),
        (("wifi_passphrase", '"' + "x" * 64 + '"'), "wifi_passphrase must have 8 to 63"),
        (("wifi_passphrase", '"change-me-please"'), "wifi_passphrase is the example"),
        (
            ("admin_password", '"abc"'),
            "admin_password: The password must have at least 8 characters",
        ),
        (("province", '""'), "province is missing"),
        (("site_name", '"តេក"'), "site_code is needed"),
    ],
)
def test_bad_value_is_reported_on_boot_partition(make_pi, change, problem):
    key, value = change
    lines = [line for line in GOOD.splitlines() if not line.startswith(key + " ")]
    pi = make_pi(setup="\n".join([*lines, f"{key} = {value}"]) + "\n")
    result = pi.first_boot()
    assert result.exit_code == 1
    assert problem in (pi.boot / "kru-setup-errors.txt").read_text()
    assert problem in result.output  # stderr goes to the console


def test_bad_file_lists_every_problem_at_once(make_pi):
    pi = make_pi(setup='site_name = "TEC Kampot"\nsite_kind = "X"\nwifi_passphrase = "1"\n')
    assert pi.first_boot().exit_code == 1
    errors = (pi.boot / "kru-setup-errors.txt").read_text()
    for problem in ("site_kind must be", "province is missing", "wifi_passphrase must", "admin"):
        assert problem in errors


def test_bad_file_changes_nothing(make_pi):
    pi = make_pi(setup=GOOD.replace('"TEC"', '"XYZ"'))
    before = pi.config.read_text()
    assert pi.first_boot().exit_code == 1
    assert pi.config.read_text() == before
    assert not pi.data.exists()
    assert not (pi.etc / "hostapd").exists()
    assert (pi.boot / "kru-setup.toml").exists()  # kept, so a fixed file can be tried again


def test_file_that_is_not_toml_is_reported(make_pi):
    pi = make_pi(setup="site_name = TEC Battambang\n")
    assert pi.first_boot().exit_code == 1
    assert "not valid TOML" in (pi.boot / "kru-setup-errors.txt").read_text()


def test_unknown_key_is_reported(make_pi):
    pi = make_pi(setup=GOOD + 'wifi_pasphrase = "typo-typo"\n')
    assert pi.first_boot().exit_code == 1
    assert "unknown key wifi_pasphrase" in (pi.boot / "kru-setup-errors.txt").read_text()


def test_missing_provisioning_file_is_reported(make_pi):
    pi = make_pi(setup=GOOD + 'sync_provisioning_file = "kru-device.toml"\n')
    assert pi.first_boot().exit_code == 1
    assert (
        "kru-device.toml is not on the boot partition"
        in (pi.boot / "kru-setup-errors.txt").read_text()
    )


def test_missing_file_on_fresh_pi_says_how_to_set_it_up(make_pi):
    pi = make_pi(setup=None)
    result = pi.first_boot()
    assert result.exit_code == 1
    errors = (pi.boot / "kru-setup-errors.txt").read_text()
    assert "kru-setup.toml is not on the boot partition" in errors
    assert "kru-setup.toml" in result.output
    assert not pi.data.exists()


def test_fixed_file_clears_the_errors_file(make_pi):
    pi = make_pi(setup=GOOD.replace('"TEC"', '"XYZ"'))
    assert pi.first_boot().exit_code == 1
    (pi.boot / "kru-setup.toml").write_text(GOOD)
    assert pi.first_boot().exit_code == 0
    assert not (pi.boot / "kru-setup-errors.txt").exists()


def test_setup_check_accepts_a_good_file(tmp_path):
    path = tmp_path / "kru-setup.toml"
    path.write_text(GOOD)
    result = CliRunner().invoke(get_cli(), ["setup", "check", str(path)])
    assert result.exit_code == 0
    assert "KRU-TEC-Battambang" in result.output


def test_setup_check_reports_a_bad_file_on_stderr(tmp_path):
    path = tmp_path / "kru-setup.toml"
    path.write_text(GOOD.replace('"TEC"', '"XYZ"'))
    result = CliRunner().invoke(get_cli(), ["setup", "check", str(path)])
    assert result.exit_code == 1
    assert "site_kind must be TEC or CTC" in result.stderr


def test_good_file_writes_dhcp_for_100_phones_and_captive_dns(make_pi):
    import ipaddress
    import re

    pi = make_pi()
    assert pi.first_boot().exit_code == 0
    text = (pi.etc / "dnsmasq.d" / "kru.conf").read_text()
    start, end = re.search(r"^dhcp-range=([\d.]+),([\d.]+),", text, re.M).groups()
    assert int(ipaddress.ip_address(end)) - int(ipaddress.ip_address(start)) + 1 >= 100
    assert "\naddress=/#/10.42.0.1\n" in text  # every name answers with the Pi


def test_good_file_publishes_kru_local(make_pi):
    pi = make_pi()
    assert pi.first_boot().exit_code == 0
    assert "10.42.0.1 kru.local" in (pi.etc / "avahi" / "hosts").read_text()
    assert "<port>80</port>" in (pi.etc / "avahi" / "services" / "kru.service").read_text()


# --- one set of account rules (issue 12) --------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("admin_username", '"a"', "Username 'a' is not valid"),
        ("admin_username", '"' + "a" * 40 + '"', "is not valid"),
        ("admin_username", '"_admin"', "is not valid"),
        ("admin_password", '"change-me-too"', "example from Kru's instructions"),
        ("admin_password", '"password1"', "most common passwords"),
        ("admin_password", '"Admin"', "at least 8 characters"),
    ],
)
def test_setup_check_refuses_what_account_creation_refuses(tmp_path, key, value, problem):
    from edge_server import accounts
    from edge_server.base.errors import ValidationError

    setup = "\n".join(
        [
            *(line for line in GOOD.splitlines() if not line.startswith(key + " ")),
            f"{key} = {value}",
        ]
    )
    path = tmp_path / "kru-setup.toml"
    path.write_text(setup + "\n")
    result = CliRunner().invoke(get_cli(), ["setup", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert problem in result.stderr
    # ... and account creation refuses the same value.
    parsed = tomllib.loads(setup)
    with pytest.raises(ValidationError):
        accounts.check_username(parsed.get("admin_username", "admin"))
        accounts.check_password(parsed["admin_password"], parsed.get("admin_username", "admin"))


def test_admin_password_equal_to_the_username_is_refused(tmp_path):
    path = tmp_path / "kru-setup.toml"
    path.write_text(
        GOOD.replace('admin_password = "ministry-admin-1"', 'admin_password = "Site-Admin-01"')
        + 'admin_username = "site-admin-01"\n'
    )
    result = CliRunner().invoke(get_cli(), ["setup", "check", str(path)])
    assert result.exit_code == 1
    assert "must not be the username" in result.stderr


def test_setup_check_accepts_what_account_creation_accepts(tmp_path):
    path = tmp_path / "kru-setup.toml"
    path.write_text(GOOD + 'admin_username = "Site.Admin-01"\n')
    result = CliRunner().invoke(get_cli(), ["setup", "check", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "admin site.admin-01" in result.output  # as account creation stores it


@pytest.mark.parametrize(
    "change",
    [
        ('admin_password = "ministry-admin-1"', 'admin_password = "password1"'),
        (
            'admin_password = "ministry-admin-1"',
            'admin_password = "ministry-admin-1"\nadmin_username = "a"',
        ),
    ],
)
def test_first_boot_with_a_bad_account_writes_nothing(make_pi, change):
    pi = make_pi(setup=GOOD.replace(*change))
    before = pi.config.read_text()
    result = pi.first_boot()
    assert result.exit_code == 1
    assert pi.config.read_text() == before
    assert not pi.data.exists()  # no secrets, no database
    assert not (pi.etc / "hostapd").exists()
    assert (pi.boot / "kru-setup.toml").exists()
    assert (pi.boot / "kru-setup-errors.txt").exists()


def test_first_boot_with_missing_hotspot_templates_writes_nothing(make_pi, tmp_path):
    pi = make_pi()
    before = pi.config.read_text()
    args = ["--config", str(pi.config), "--data-dir", str(pi.data), "setup", "first-boot"]
    args += ["--boot-dir", str(pi.boot), "--etc-dir", str(pi.etc)]
    args += ["--templates", str(tmp_path / "no-templates")]
    result = CliRunner().invoke(get_cli(), args)
    if not db.is_closed():
        db.close()
    assert result.exit_code == 1
    assert "no-templates" in (pi.boot / "kru-setup-errors.txt").read_text()
    assert pi.config.read_text() == before
    assert not pi.data.exists()
    assert (pi.boot / "kru-setup.toml").exists()


def test_first_boot_with_a_broken_site_config_writes_nothing(make_pi):
    pi = make_pi()
    pi.config.write_text('host = "0.0.0.0"\nport = "eighty"\n')
    result = pi.first_boot()
    assert result.exit_code == 1
    assert "port" in (pi.boot / "kru-setup-errors.txt").read_text()
    assert not pi.data.exists()
    assert (pi.boot / "kru-setup.toml").exists()
