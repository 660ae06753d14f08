"""Settings: the TOML file plus environment overrides, failing fast and hiding secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.errors import ConfigError
from consumer.settings import DEFAULT_CONFIG, load_settings, settings_from_dict
from tests.helpers import HMAC_SECRET, STD_SECRET, default_sources


def test_committed_defaults_load_without_sources_or_secrets() -> None:
    """config/consumer.toml is valid on its own."""
    settings = load_settings(DEFAULT_CONFIG, env={})
    assert settings.zeeg.base_url == "https://api.zeeg.me/v2"
    assert settings.intake.max_body_bytes == 1048576
    assert settings.intake.tolerance_seconds == 300
    assert settings.intake.dedupe_ttl_days == 7
    assert settings.delivery.sla_hours == 72
    assert settings.retention.tombstone_days == 35
    assert dict(settings.sources) == {}
    assert settings.zeeg.token is None and settings.sandbox is False


def test_environment_overrides_the_file() -> None:
    """REDIS_URL, ZEEG_API_TOKEN, ZEEG_API_BASE_URL, CONSUMER_ADMIN_TOKEN and PORT win."""
    env = {
        "REDIS_URL": "redis://example:6380/2",
        "ZEEG_API_TOKEN": "tok",
        "ZEEG_API_BASE_URL": "http://127.0.0.1:1/v2",
        "CONSUMER_ADMIN_TOKEN": "adm",
        "PORT": "9001",
    }
    settings = load_settings(DEFAULT_CONFIG, env=env)
    assert settings.redis_url == "redis://example:6380/2"
    assert settings.zeeg.token == "tok"
    assert settings.zeeg.base_url == "http://127.0.0.1:1/v2"
    assert settings.admin_token == "adm"
    assert settings.port == 9001


def test_consumer_config_points_to_another_file(tmp_path: Path) -> None:
    """CONSUMER_CONFIG replaces the default file."""
    path = tmp_path / "other.toml"
    path.write_text("[zeeg]\nrate_limit_per_second = 42.0\n")
    assert load_settings(env={"CONSUMER_CONFIG": str(path)}).zeeg.rate_limit_per_second == 42.0


def test_a_bad_file_fails_with_one_message_naming_every_problem(tmp_path: Path) -> None:
    """Every problem (file, key, why) in one ConfigError."""
    path = tmp_path / "bad.toml"
    path.write_text(
        """
[zeeg]
burst = "many"
colour = "blue"
[intake]
max_body_bytes = -1
[sources.userdb]
scheme = "rot13"
secret_env = "MISSING_SECRET"
event_types = []
targets = [{ object = "x" }]
[sources."Bad Name"]
scheme = "none"
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    for expected in [
        "[zeeg] burst: must be int",
        "[zeeg] colour: unknown key",
        "[intake] max_body_bytes: must not be negative",
        "[sources.userdb] scheme: must be one of",
        "MISSING_SECRET is not set",
        "event_types: a non-empty list",
        "targets[0].object: must match",
        "event_id: required",
        "[sources.Bad Name]: name must match",
    ]:
        assert expected in message, expected
    assert str(path) in message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    """A syntax error is reported, not a traceback."""
    path = tmp_path / "broken.toml"
    path.write_text("[zeeg\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path, env={})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A path that does not exist fails clearly."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.toml", env={})


def test_secrets_never_appear_in_reprs_or_errors() -> None:
    """Secrets, tokens and the Redis URL are hidden from repr."""
    env = {
        "USERDB_SECRET": HMAC_SECRET,
        "CLERK_SECRET": STD_SECRET,
        "ZEEG_API_TOKEN": "zeeg-tok-123",
        "CONSUMER_ADMIN_TOKEN": "admin-tok-456",
        "REDIS_URL": "redis://:redis-pass-789@host:6379/0",
    }
    settings = settings_from_dict({"sources": default_sources()}, env, "t.toml")
    text = repr(settings)
    for secret in env.values():
        assert secret not in text


def test_rotation_lists_several_variables_each_holding_one_whole_secret() -> None:
    """secret_env may list variables (rotation); a value with spaces or commas stays whole."""
    raw = default_sources()
    raw["userdb"]["secret_env"] = ["USERDB_SECRET", "USERDB_SECRET_OLD", "USERDB_SECRET_OLDER"]
    env = {
        "USERDB_SECRET": "new secret, with spaces",
        "USERDB_SECRET_OLD": "old-secret-0123456789",
        "USERDB_SECRET_OLDER": "older-secret-0123456789",
        "CLERK_SECRET": STD_SECRET,
    }
    settings = settings_from_dict({"sources": raw}, env, "t.toml")
    assert settings.sources["userdb"].secrets == (
        "new secret, with spaces",
        "old-secret-0123456789",
        "older-secret-0123456789",
    )


def test_scheme_none_requires_insecure_allow_unsigned() -> None:
    """An unsigned source must be opted into explicitly."""
    raw = {"sources": {"open": {**default_sources()["userdb"], "scheme": "none"}}}
    with pytest.raises(ConfigError, match="insecure_allow_unsigned"):
        settings_from_dict(raw, {}, "t.toml")
    raw["sources"]["open"]["insecure_allow_unsigned"] = True
    assert settings_from_dict(raw, {}, "t.toml").sources["open"].scheme == "none"


def test_resolvers_are_validated_and_default_to_store() -> None:
    """resolve defaults to ["store"]; unknown resolvers are named."""
    env = {"USERDB_SECRET": HMAC_SECRET, "CLERK_SECRET": STD_SECRET}
    settings = settings_from_dict({"sources": default_sources()}, env, "t.toml")
    assert settings.sources["userdb"].targets[0].resolve == ("store",)
    raw = default_sources()
    raw["userdb"]["targets"] = [{"object": "contacts", "resolve": ["guess"]}]
    with pytest.raises(ConfigError, match="unknown resolver"):
        settings_from_dict({"sources": raw}, env, "t.toml")


def test_sandbox_environment_adds_the_sandbox_source() -> None:
    """run --sandbox passes CONSUMER_SANDBOX and a secret; the children get a sandbox source."""
    env = {"CONSUMER_SANDBOX": "1", "CONSUMER_SANDBOX_SECRET": STD_SECRET}
    settings = load_settings(DEFAULT_CONFIG, env=env)
    assert settings.sandbox is True
    assert settings.sources["sandbox"].scheme == "standard-webhooks"


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("retention", "tombstone_days"),
        ("retention", "audit_retention_days"),
        ("intake", "dedupe_ttl_days"),
        ("intake", "max_body_bytes"),
        ("delivery", "max_attempts"),
        ("zeeg", "burst"),
        ("zeeg", "read_timeout_seconds"),
    ],
)
def test_zero_is_refused_where_it_would_break_delivery(section: str, key: str) -> None:
    """A zero TTL, limit or timeout fails at start, not at the first erasure."""
    kind = 0 if key in ("max_body_bytes", "max_attempts", "burst") else 0.0
    with pytest.raises(ConfigError, match=rf"\[{section}\] {key}: must be greater than 0"):
        settings_from_dict({section: {key: kind}}, {}, "t.toml")


def test_zero_rate_limit_means_unlimited_and_is_accepted() -> None:
    """rate_limit_per_second = 0 switches the shared bucket off."""
    settings = settings_from_dict({"zeeg": {"rate_limit_per_second": 0.0}}, {}, "t.toml")
    assert settings.zeeg.rate_limit_per_second == 0.0


def test_malformed_redis_url_is_a_config_error_that_hides_the_value() -> None:
    """A REDIS_URL of the wrong form fails at start without printing its password."""
    with pytest.raises(ConfigError, match="REDIS_URL: must start with") as caught:
        load_settings(DEFAULT_CONFIG, env={"REDIS_URL": "http://:hunter2@host:6379"})
    assert "hunter2" not in str(caught.value)
