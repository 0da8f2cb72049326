"""Settings: defaults < TOML file < KRU_* environment < overrides, with explicit types."""

import os
import stat

import pytest

from edge_server.base.datahome import DataHome
from edge_server.base.errors import ConfigError
from edge_server.base.settings import SETTINGS, load_settings


def test_defaults_without_file_or_environment():
    settings = load_settings(environ={})
    assert settings["port"] == 8080
    assert settings["default_language"] == "km"
    assert settings.sources["port"] == "default"


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path):
    config = tmp_path / "kru.toml"
    config.write_text('port = 9000\nsite_name = "TEC Kampot"\n[sync]\nbatch_size = 50\n')
    settings = load_settings(config, environ={"KRU_PORT": "9100"})
    assert settings["port"] == 9100
    assert settings.sources["port"] == "env KRU_PORT"
    assert settings["site_name"] == "TEC Kampot"
    assert settings["sync.batch_size"] == 50


def test_config_file_named_by_environment(tmp_path):
    config = tmp_path / "kru.toml"
    config.write_text("threads = 3\n")
    assert load_settings(environ={"KRU_CONFIG": str(config)})["threads"] == 3


def test_overrides_beat_everything(tmp_path):
    settings = load_settings(environ={"KRU_DATA_DIR": "/nope"}, overrides={"data_dir": tmp_path})
    assert settings.data_dir == tmp_path


@pytest.mark.parametrize(
    ("env", "name", "expected"),
    [
        ({"KRU_PACKS_ALLOW_UNSIGNED": "no"}, "packs.allow_unsigned", False),
        ({"KRU_PACKS_TRUSTED_KEYS": "abc, def"}, "packs.trusted_keys", ["abc", "def"]),
        ({"KRU_SYNC_DAILY_BUDGET_MB": "12.5"}, "sync.daily_budget_mb", 12.5),
        (
            {"KRU_CENTRAL_DATABASE_URL": "postgresql://x/y"},
            "central.database_url",
            "postgresql://x/y",
        ),
    ],
)
def test_environment_values_are_converted_by_declared_type(env, name, expected):
    assert load_settings(environ=env)[name] == expected


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"KRU_PORT": "eighty"}, "port"),
        ({"KRU_PORT": "0"}, "at least"),
        ({"KRU_PACKS_ALLOW_UNSIGNED": "maybe"}, "true or false"),
        ({"KRU_DEFAULT_LANGUAGE": "fr"}, "one of"),
    ],
)
def test_bad_values_name_the_setting(env, needle):
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert needle in info.value.message


def test_unknown_setting_in_file_is_refused(tmp_path):
    config = tmp_path / "kru.toml"
    config.write_text("prot = 80\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings(config, environ={})


def test_broken_toml_is_refused(tmp_path):
    config = tmp_path / "kru.toml"
    config.write_text("port = = 80\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config, environ={})


def test_missing_config_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_every_setting_has_help_and_a_valid_default():
    for setting in SETTINGS:
        assert setting.help.strip()
        setting.convert(setting.default)


def test_secret_key_is_made_once_with_mode_0600(tmp_path):
    home = DataHome(tmp_path).ensure()
    first = home.read_or_create_secret("flask_secret_key")
    second = home.read_or_create_secret("flask_secret_key")
    assert first == second and len(first) == 64
    mode = stat.S_IMODE(os.stat(home.secrets / "flask_secret_key").st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(home.secrets).st_mode) == 0o700


def test_app_keeps_its_secret_key_across_restarts(data_dir):
    from edge_server import create_app

    first = create_app({"data_dir": str(data_dir)}).config["SECRET_KEY"]
    second = create_app({"data_dir": str(data_dir)}).config["SECRET_KEY"]
    assert first == second
    assert (data_dir / "secrets" / "flask_secret_key").exists()


def test_data_home_holds_database_content_and_logs(app, data_dir):
    assert (data_dir / "kru.sqlite3").exists()
    for sub in ("content", "secrets", "logs", "quarantine", "tmp"):
        assert (data_dir / sub).is_dir()


def test_cli_config_list_shows_sources(runner, tmp_path, monkeypatch):
    config = tmp_path / "kru.toml"
    config.write_text('site_name = "CTC Takeo"\n')
    monkeypatch.setenv("KRU_THREADS", "4")
    result = runner("--config", str(config), "config", "list")
    assert result.exit_code == 0
    assert "CTC Takeo" in result.stdout and f"file {config}" in result.stdout
    assert "env KRU_THREADS" in result.stdout


def test_cli_bad_setting_is_one_line_on_stderr(runner, monkeypatch):
    monkeypatch.setenv("KRU_PORT", "eighty")
    result = runner("config", "list")
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "port" in result.stderr
