"""SPEC §3 against config/consumer.toml and settings.py: keys, defaults, scheme defaults."""

from __future__ import annotations

import tomllib

from consumer.settings import DEFAULT_CONFIG, section_defaults, settings_from_dict
from consumer.settings.load import sections
from consumer.settings.schema import check_table, schema_of
from tests.helpers import STD_SECRET


def test_committed_file_sets_every_key_to_the_code_default() -> None:
    """Each [section] of config/consumer.toml holds exactly the dataclasses' keys and defaults."""
    committed = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    for section, defaults in section_defaults().items():
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


def test_committed_file_has_every_section_and_each_value_of_its_declared_kind() -> None:
    """No [section] more or less than the dataclasses, and every value passes its schema."""
    committed = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    assert set(committed) == set(sections())
    for name, cls in sections().items():
        problems: list[str] = []
        check_table(committed[name], schema_of(cls), f"[{name}]", problems)
        assert problems == [], name
