"""SPEC §3 against config/consumer.toml and settings.py: keys, defaults, scheme defaults."""

from __future__ import annotations

import tomllib

from consumer.settings import _DEFAULTS, DEFAULT_CONFIG, settings_from_dict
from tests.helpers import STD_SECRET


def test_committed_file_sets_every_key_to_the_code_default() -> None:
    """Each section of config/consumer.toml names exactly the keys of _DEFAULTS, same values."""
    committed = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    for section, defaults in _DEFAULTS.items():
        assert committed[section] == defaults, section


def test_standard_webhooks_scheme_defaults_event_id_to_the_webhook_id_header() -> None:
    """A standard-webhooks source without event_id reads header:webhook-id (SPEC §3)."""
    raw = {
        "sources": {
            "app": {
                "scheme": "standard-webhooks",
                "secret_env": "APP_SECRET",
                "event_types": ["contact.deleted"],
                "external_id": "data.id",
                "targets": [{"object": "contacts"}],
            }
        }
    }
    settings = settings_from_dict(raw, {"APP_SECRET": STD_SECRET}, "test")
    assert settings.sources["app"].event_id == "header:webhook-id"
