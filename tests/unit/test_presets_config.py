"""Presets in the configuration: what they fill, what overrides them, what is refused."""

from __future__ import annotations

import tomllib

import pytest

from consumer.errors import ConfigError
from consumer.settings.presets import PRESETS
from tests.helpers import sender_settings


def test_preset_fills_scheme_paths_and_deletion_types() -> None:
    """preset = "stripe" alone gives the Stripe scheme, field paths and customer.deleted."""
    src = sender_settings().sources["stripe"]
    assert (src.scheme, src.signature_header) == ("stripe", "Stripe-Signature")
    assert (src.event_id, src.external_id, src.event_types) == (
        "id",
        "data.object.id",
        ("customer.deleted",),
    )


def test_source_keys_override_the_preset() -> None:
    """A key in the source's table wins over the preset's."""
    src = sender_settings(stripe={"event_types": ["customer.deleted", "customer.updated"]})
    assert src.sources["stripe"].event_types == ("customer.deleted", "customer.updated")


def test_options_merge_key_by_key() -> None:
    """A source's options add to the preset's options instead of replacing them."""
    settings = sender_settings(okta={"options": {"external_id_prefix": "u:"}})
    assert dict(settings.sources["okta"].options) == {
        "batch": "data.events",
        "external_id_prefix": "u:",
    }


def test_github_delivery_header_option_sets_the_event_id() -> None:
    """github-style reads the event id from options.delivery_header (X-GitHub-Delivery)."""
    default = sender_settings().sources["github"]
    other = sender_settings(github={"options": {"delivery_header": "X-Gitea-Delivery"}})
    assert default.event_id == "header:X-GitHub-Delivery"
    assert other.sources["github"].event_id == "header:X-Gitea-Delivery"


def test_explicit_external_id_wins_over_the_supabase_column() -> None:
    """external_id set in the table is kept even though the preset has a column option."""
    settings = sender_settings(supabase={"external_id": "old_record.uuid"})
    assert settings.sources["supabase"].external_id == "old_record.uuid"


def test_unknown_option_is_a_config_error() -> None:
    """A typo in options is named at start, not ignored."""
    with pytest.raises(ConfigError, match=r"\[sources.okta\] options.bacth: unknown option"):
        sender_settings(okta={"options": {"bacth": "data.events"}})


def test_github_style_without_event_fields_names_what_is_missing() -> None:
    """github-style has no standard deletion event: external_id and event_types are required."""
    with pytest.raises(ConfigError) as caught:
        sender_settings(github={"external_id": "", "event_types": []})
    assert "[sources.github] external_id: required" in str(caught.value)
    assert "[sources.github] event_types" in str(caught.value)


def test_every_documented_preset_exists() -> None:
    """The ten presets of the README are all defined."""
    assert set(PRESETS) == {
        "clerk",
        "standard-webhooks",
        "stripe",
        "workos",
        "auth0-log-stream",
        "auth0-event-stream",
        "okta",
        "supabase",
        "keycloak",
        "github-style",
    }


def test_external_id_table_maps_event_types_to_paths() -> None:
    """external_id as a TOML table: each event type reads its own path, prefix per type."""
    table = tomllib.loads(
        'external_id = { "admin.USER-DELETE" = "resourcePath",'
        ' "access.DELETE_ACCOUNT" = "authDetails.userId" }\n'
        'options = { external_id_prefix = { "admin.USER-DELETE" = "users/" } }\n'
    )
    src = sender_settings(keycloak=table).sources["keycloak"]
    assert src.external_id_path("admin.USER-DELETE") == "resourcePath"
    assert src.external_id_path("access.DELETE_ACCOUNT") == "authDetails.userId"
    assert src.external_id_prefix("admin.USER-DELETE") == "users/"
    assert src.external_id_prefix("access.DELETE_ACCOUNT") == ""


def test_plain_external_id_string_still_applies_to_every_event_type() -> None:
    """A string external_id (and a string prefix) keeps its meaning for all deletion types."""
    src = sender_settings(
        keycloak={
            "external_id": "resourcePath",
            "event_types": ["admin.USER-DELETE"],
            "options": {"external_id_prefix": "users/"},
        }
    ).sources["keycloak"]
    assert src.external_id_path("admin.USER-DELETE") == "resourcePath"
    assert src.external_id_prefix("admin.USER-DELETE") == "users/"


def test_external_id_table_missing_a_deletion_type_is_a_config_error() -> None:
    """Every type of event_types needs a path: a deletion type without one is named at start."""
    with pytest.raises(ConfigError, match=r"external_id: no path for event type\(s\) \['b'\]"):
        sender_settings(keycloak={"event_types": ["a", "b"], "external_id": {"a": "x.id"}})


@pytest.mark.parametrize(
    "value", [{"admin.USER-DELETE": 3}, {"admin.USER-DELETE": ""}, ["resourcePath"], 7]
)
def test_external_id_of_the_wrong_shape_is_a_config_error(value: object) -> None:
    """Not a path nor a table of non-empty path strings: refused with what it must be."""
    with pytest.raises(ConfigError, match=r"\[sources.keycloak\] external_id: must be a path"):
        sender_settings(keycloak={"external_id": value})


def test_prefix_table_with_a_non_string_is_a_config_error() -> None:
    """options.external_id_prefix as a table must map event types to strings."""
    with pytest.raises(ConfigError, match=r"options.external_id_prefix: a table's values"):
        sender_settings(keycloak={"options": {"external_id_prefix": {"admin.USER-DELETE": 1}}})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("external_id", "target[type=User.id"),
        ("event_id", "a..b"),
        ("external_id", {"admin.USER-DELETE": "users[=x]"}),
        ("options", {"batch": "data[events"}),
    ],
)
def test_malformed_field_path_is_a_config_error(key: str, value: object) -> None:
    """A malformed path or selector fails at load, naming the key, not on the first webhook."""
    name = "okta" if key != "external_id" or isinstance(value, str) else "keycloak"
    with pytest.raises(ConfigError, match="malformed field path") as caught:
        sender_settings(**{name: {key: value}})
    assert f"[sources.{name}] {key}" in str(caught.value)


def test_external_id_table_with_event_types_not_a_list_is_named_not_a_crash() -> None:
    """event_types of the wrong type next to an external_id table: config errors, no traceback."""
    with pytest.raises(ConfigError, match=r"\[sources.keycloak\] event_types"):
        sender_settings(keycloak={"event_types": 3})


def test_options_that_are_not_a_table_are_a_config_error_not_a_crash() -> None:
    """options = "x" on a preset without options of its own is named, never a traceback."""
    with pytest.raises(ConfigError) as caught:
        sender_settings(stripe={"options": "x"})
    assert caught.value.problems == ["test.toml: [sources.stripe] options: must be dict"]
