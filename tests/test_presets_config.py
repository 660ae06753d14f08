"""Presets in the configuration: what they fill, what overrides them, what is refused."""

from __future__ import annotations

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
