"""The orphan sweep's setting ([delivery] orphan_after_seconds) and its Redis key names."""

from __future__ import annotations

import pytest

from consumer.errors import ConfigError
from consumer.settings import DEFAULT_CONFIG, load_settings, settings_from_dict
from consumer.store import keys


def test_the_threshold_defaults_to_two_minutes() -> None:
    """Without the key, an orphan is re-enqueued 120 s after its event last moved."""
    assert settings_from_dict({}, {}, "t.toml").delivery.orphan_after_seconds == 120.0


def test_the_threshold_comes_from_the_file_or_the_environment() -> None:
    """The TOML key and its ZC_DELIVERY__ variable, 0 (off) included."""
    raw = {"delivery": {"orphan_after_seconds": 30}}
    assert settings_from_dict(raw, {}, "t.toml").delivery.orphan_after_seconds == 30.0
    env = {"ZC_DELIVERY__ORPHAN_AFTER_SECONDS": "0"}
    assert load_settings(DEFAULT_CONFIG, env=env).delivery.orphan_after_seconds == 0.0


@pytest.mark.parametrize(
    ("raw", "env", "message"),
    [
        ({"orphan_after_seconds": -1}, {}, "[delivery] orphan_after_seconds: must not be negative"),
        ({"orphan_after_seconds": "soon"}, {}, "[delivery] orphan_after_seconds: must be float"),
        (
            {},
            {"ZC_DELIVERY__ORPHAN_AFTER_SECONDS": "soon"},
            "ZC_DELIVERY__ORPHAN_AFTER_SECONDS: [delivery] orphan_after_seconds: must be float",
        ),
    ],
)
def test_a_bad_threshold_fails_naming_the_key(
    raw: dict[str, object], env: dict[str, str], message: str
) -> None:
    """A negative or unreadable value stops the start, naming the key (and the variable)."""
    with pytest.raises(ConfigError) as e:
        settings_from_dict({"delivery": raw}, env, "t.toml")
    assert message in str(e.value)


def test_the_sweeps_keys_are_literal() -> None:
    """Renaming a key orphans stored data: these strings are part of the contract."""
    assert keys.ORPHAN_LOCK == "zc:orphans:lock"
    assert keys.ORPHAN_CURSOR == "zc:orphans:cursor"
    assert keys.orphan_seen("userdb", "e:1") == "zc:orphans:seen:userdb:e:1"
