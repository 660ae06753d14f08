"""The settings schema: tables derived from the dataclasses, and the one validator of tables."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from consumer.errors import ConfigError
from consumer.settings import (
    AlertSettings,
    DeliverySettings,
    IntakeSettings,
    RetentionSettings,
    ZeegSettings,
    section_defaults,
    settings_from_dict,
)
from consumer.settings.load import sections
from consumer.settings.model import AuditSettings, WebSettings
from consumer.settings.presets import OPTIONS
from consumer.settings.schema import Key, Schema, check_table, schema_of

SCHEMA = Schema(
    {
        "name": Key(str),
        "count": Key(int, "positive"),
        "wait": Key(float, "non-negative"),
        "flag": Key(bool),
        "prefix": Key(str, by_event_type=True),
    }
)


def _check(table: dict[str, Any], schema: Schema = SCHEMA) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    return check_table(table, schema, "f.toml: [t]", problems), problems


def test_sections_are_the_dataclass_fields_of_settings() -> None:
    """[zeeg], [delivery], [intake], [retention], [audit], [alerts] and [web]: the Settings
    fields typed as a    dataclass."""
    assert sections() == {
        "zeeg": ZeegSettings,
        "delivery": DeliverySettings,
        "intake": IntakeSettings,
        "retention": RetentionSettings,
        "audit": AuditSettings,
        "alerts": AlertSettings,
        "web": WebSettings,
    }


def test_section_keys_and_defaults_are_the_fields_of_its_dataclass() -> None:
    """Every field is a key with its declared default, except those the environment sets."""
    for cls in sections().values():
        names = {f.name for f in dataclasses.fields(cls)} - {"token", "webhook_url"}
        assert set(schema_of(cls).keys) == names
    assert section_defaults()["zeeg"]["base_url"] == "https://api.zeeg.me/v2"
    assert section_defaults()["delivery"]["max_wait_in_job_seconds"] == 1.5
    assert "token" not in section_defaults()["zeeg"]


def test_zeeg_token_is_no_key_of_the_file() -> None:
    """The API token comes from ZEEG_API_TOKEN only: in [zeeg] it is an unknown key."""
    with pytest.raises(ConfigError, match=r"t.toml: \[zeeg\] token: unknown key"):
        settings_from_dict({"zeeg": {"token": "tok"}}, {}, "t.toml")


def test_exactly_the_numbers_where_zero_means_something_accept_zero() -> None:
    """No limit, backoff, grace, wait, tolerance or sweep: every other number is positive."""
    zero_ok = {
        key
        for cls in sections().values()
        for key, spec in schema_of(cls).keys.items()
        if spec.range == "non-negative"
    }
    assert zero_ok == {
        "rate_limit_per_second",
        "backoff_base_seconds",
        "backoff_max_seconds",
        "heartbeat_grace_seconds",
        "max_wait_in_job_seconds",
        "tolerance_seconds",
        "orphan_after_seconds",  # 0: no orphan sweep
    }


def test_every_section_key_has_a_kind_the_file_can_give() -> None:
    """Section fields are TOML scalars: str, int, float or bool, never a union or a container."""
    for cls in sections().values():
        for key, spec in schema_of(cls).keys.items():
            assert spec.kind in (str, int, float, bool), key


def test_valid_keys_come_back_with_floats_as_float() -> None:
    """An int given for a float key is read as a float; other values are kept as given."""
    values, problems = _check({"name": "a", "count": 2, "wait": 0, "flag": False})
    assert problems == []
    assert values == {"name": "a", "count": 2, "wait": 0.0, "flag": False}
    assert isinstance(values["wait"], float)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"colour": 1}, "f.toml: [t] colour: unknown key"),
        ({"count": True}, "f.toml: [t] count: must be int"),
        ({"count": 1.0}, "f.toml: [t] count: must be int"),
        ({"wait": False}, "f.toml: [t] wait: must be float"),
        ({"name": 3}, "f.toml: [t] name: must be str"),
        ({"count": -1}, "f.toml: [t] count: must not be negative"),
        ({"wait": -0.5}, "f.toml: [t] wait: must not be negative"),
        ({"count": 0}, "f.toml: [t] count: must be greater than 0"),
        ({"prefix": {"a": 1}}, "f.toml: [t] prefix: a table's values must be str"),
        ({"prefix": 1}, "f.toml: [t] prefix: must be str"),
    ],
)
def test_each_wrong_key_is_one_problem_and_left_out(table: dict[str, Any], problem: str) -> None:
    """Unknown keys, wrong kinds (bools are not numbers) and out-of-range numbers are named."""
    values, problems = _check(table)
    assert problems == [problem]
    assert values == {}


def test_a_table_of_values_by_event_type_is_accepted_where_declared() -> None:
    """by_event_type keys take a table of event type = value as well as one value."""
    values, problems = _check({"prefix": {"user.deleted": "u:"}})
    assert (values, problems) == ({"prefix": {"user.deleted": "u:"}}, [])


def test_options_schema_words_an_unknown_option_with_the_known_ones() -> None:
    """The options schema prefixes its keys with options. and lists what it knows."""
    _, problems = _check({"bacth": "x"}, OPTIONS)
    assert problems == [
        "f.toml: [t] options.bacth: unknown option "
        "(batch, column, delivery_header, external_id_prefix)"
    ]
