from pathlib import Path

import pytest

from fedisupport.settings import ConfigError, load_settings, write_settings_file


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"FEDISUPPORT_DATA_DIR": str(tmp_path), **values}


def test_environment_wins_over_the_settings_file(tmp_path):
    write_settings_file(tmp_path / "fedisupport.toml", {"domain": "file.example.org", "port": 8100})
    settings = load_settings(env(tmp_path, FEDISUPPORT_DOMAIN="env.example.org"))
    assert settings.domain == "env.example.org"
    assert settings.port == 8100
    assert settings.base_url == "https://env.example.org"


def test_default_database_is_sqlite_in_the_data_directory(tmp_path):
    settings = load_settings(env(tmp_path, FEDISUPPORT_DOMAIN="a.example.org"))
    assert settings.database_url == f"sqlite+aiosqlite:///{(tmp_path / 'fedisupport.db').resolve()}"


@pytest.mark.parametrize("given, expected", [
    ("postgresql://u:p@db/fs", "postgresql+asyncpg://u:p@db/fs"),
    ("postgres://u@db/fs", "postgresql+asyncpg://u@db/fs"),
    ("sqlite:////var/lib/fs.db", "sqlite+aiosqlite:////var/lib/fs.db"),
])
def test_database_urls_map_to_async_drivers(tmp_path, given, expected):
    assert load_settings(env(tmp_path, FEDISUPPORT_DOMAIN="a.org", DATABASE_URL=given)).database_url == expected


@pytest.mark.parametrize("values, message", [
    ({}, "no domain set"),
    ({"FEDISUPPORT_DOMAIN": "https://a.org/"}, "is not a host name"),
    ({"FEDISUPPORT_DOMAIN": "a.org", "FEDISUPPORT_PORT": "eighty"}, "port must be a whole number"),
    ({"FEDISUPPORT_DOMAIN": "a.org", "FEDISUPPORT_PORT": "70000"}, "port must be between"),
    ({"FEDISUPPORT_DOMAIN": "a.org", "DATABASE_URL": "mysql://x/y"}, "is not supported"),
    ({"FEDISUPPORT_DOMAIN": "a.org", "FEDISUPPORT_INSECURE_HTTP": "maybe"}, "must be true or false"),
])
def test_wrong_settings_say_what_to_fix(tmp_path, values, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env(tmp_path, **values))


def test_unknown_setting_in_file_is_named(tmp_path):
    (tmp_path / "fedisupport.toml").write_text('[fedisupport]\ndomain = "a.org"\ndomian = "typo"\n')
    with pytest.raises(ConfigError, match="unknown setting.*domian"):
        load_settings(env(tmp_path))


def test_broken_toml_is_reported_with_its_path(tmp_path):
    (tmp_path / "fedisupport.toml").write_text("[fedisupport\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env(tmp_path))


def test_settings_file_is_private(tmp_path):
    path = tmp_path / "fedisupport.toml"
    write_settings_file(path, {"domain": "a.org", "secret_key": 'x"y'})
    assert path.stat().st_mode & 0o077 == 0
    assert load_settings(env(tmp_path)).secret_key == 'x"y'
