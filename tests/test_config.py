"""Settings: .env under the environment, named errors for bad values, no secrets in repr()."""
from __future__ import annotations

import pytest

from relaystore import ConfigError, load_settings


def test_env_file_is_read_and_real_environment_wins(tmp_path):
    env = tmp_path / ".env"
    env.write_text("ENCRYPTION_KEY=from-file\nMYSQL_PORT=3307\nDATABASE_TYPE=mysql\n")
    settings = load_settings(env, environ={"MYSQL_PORT": "3308"})
    assert (settings.encryption_key, settings.mysql_port, settings.database_type) == ("from-file", 3308, "mysql")


def test_missing_encryption_key_names_the_variable():
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY"):
        load_settings(None, environ={})


@pytest.mark.parametrize("name,value", [("MYSQL_PORT", "abc"), ("MYSQL_PORT", "70000"), ("DATABASE_TYPE", "postgres"),
                                        ("MYSQL_POOL_SIZE", "0"), ("TIMEZONE_OFFSET", "25"),
                                        ("MYSQL_DATABASE", "x`; DROP"), ("REDIS_URL", "http://x")])
def test_malformed_value_names_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings(None, environ={"ENCRYPTION_KEY": "k", name: value})


def test_timezone_offset_zero_means_eight_like_upstream():
    assert load_settings(None, environ={"ENCRYPTION_KEY": "k", "TIMEZONE_OFFSET": "0"}).timezone_offset == 8
    assert load_settings(None, environ={"ENCRYPTION_KEY": "k", "TIMEZONE_OFFSET": "-5"}).timezone_offset == -5


def test_overrides_use_setting_names_and_are_validated():
    settings = load_settings(None, environ={"ENCRYPTION_KEY": "k"}, mysql_database="relay_test")
    assert settings.mysql_database == "relay_test"
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(None, environ={"ENCRYPTION_KEY": "k"}, nonsense=1)


def test_repr_hides_secrets():
    settings = load_settings(None, environ={"ENCRYPTION_KEY": "sekrit-key", "MYSQL_PASSWORD": "pw-123",
                                            "REDIS_URL": "redis://:redis-pw@h:6379/0"})
    text = repr(settings)
    assert "sekrit-key" not in text and "pw-123" not in text and "redis-pw" not in text
    assert "encryption_key='***'" in text
