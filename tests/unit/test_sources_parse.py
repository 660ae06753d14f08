"""Parsing events: derived ids, preset-specific fields, and test events for every preset."""

from __future__ import annotations

import json

import pytest

from consumer.errors import FieldError
from consumer.models import ParsedEvent
from consumer.settings.presets import PRESETS
from consumer.sources.fields import parse_time
from consumer.sources.parse import derived_id, parse, read
from consumer.sources.testevent import build_event
from tests.helpers import sender_settings

SENDERS = sender_settings()


def test_derived_id_ignores_key_order_and_whitespace() -> None:
    """The same event serialised differently gets the same id."""
    a = json.loads('{"type": "DELETE", "old_record": {"id": 1, "b": 2}}')
    b = json.loads('{"old_record":{"b":2,"id":1},"type":"DELETE"}')
    assert derived_id("supabase", a) == derived_id("supabase", b)


def test_derived_id_depends_on_source_and_content() -> None:
    """Another source or another event gives another id."""
    event = {"type": "DELETE", "old_record": {"id": 1}}
    other = {"type": "DELETE", "old_record": {"id": 2}}
    assert derived_id("supabase", event) != derived_id("supa2", event)
    assert derived_id("supabase", event) != derived_id("supabase", other)


def test_derived_id_is_sha256_of_source_and_canonical_json() -> None:
    """The documented recipe: sha256("<source>\\n" + sorted compact JSON), prefixed sha256-."""
    import hashlib

    expected = hashlib.sha256(b'supabase\n{"a":1,"b":"\xc3\xa9"}').hexdigest()
    assert derived_id("supabase", {"b": "é", "a": 1}) == "sha256-" + expected


def test_same_supabase_delete_delivered_twice_has_one_id() -> None:
    """A redelivery of the same body parses to the same event id (so it dedupes)."""
    body = b'{"type":"DELETE","table":"users","old_record":{"id":"7"},"record":null}'
    (first,) = parse(SENDERS.sources["supabase"], body, {})
    (second,) = parse(SENDERS.sources["supabase"], body.replace(b",", b", "), {})
    assert isinstance(first, ParsedEvent) and isinstance(second, ParsedEvent)
    assert first.event_id == second.event_id


def test_supabase_column_option_picks_the_old_record_field() -> None:
    """options.column = "user_id" reads old_record.user_id."""
    settings = sender_settings(supabase={"options": {"column": "user_id"}})
    body = b'{"type":"DELETE","old_record":{"id":"1","user_id":"u-9"}}'
    (event,) = parse(settings.sources["supabase"], body, {})
    assert isinstance(event, ParsedEvent) and event.external_id == "u-9"


def test_keycloak_resource_path_outside_users_is_invalid() -> None:
    """A USER-DELETE whose resourcePath does not start with users/ is a 422."""
    body = b'{"uid":"k1","type":"admin.USER-DELETE","resourcePath":"groups/g1"}'
    with pytest.raises(FieldError, match="users/"):
        parse(SENDERS.sources["keycloak"], body, {})


def test_lone_event_errors_raise_instead_of_being_collected() -> None:
    """Outside a batch, read() raises the event's FieldError (the view answers 422)."""
    with pytest.raises(FieldError):
        read(SENDERS.sources["stripe"], b'{"type": "customer.deleted", "id": "evt"}', {})


@pytest.mark.parametrize("name", sorted(set(SENDERS.sources) - {"unsigned"}))
def test_test_event_of_every_preset_parses_as_its_deletion(name: str) -> None:
    """build_event (send-test-event) writes a body each preset parses back to the same ids."""
    src = SENDERS.sources[name]
    body = json.dumps(build_event(src, "evt-t1", "ext-t1", 1_700_000_000)).encode()
    headers = {src.event_id[len("header:") :].lower(): "evt-t1"}
    (event,) = parse(src, body, headers)
    assert isinstance(event, ParsedEvent)
    assert event.external_id == "ext-t1"
    if src.event_id != PRESETS["supabase"]["event_id"]:
        assert event.event_id == "evt-t1"


@pytest.mark.parametrize("value", ["1e400", float("inf"), float("nan"), 10**400])
def test_non_finite_times_are_unreadable(value: object) -> None:
    """An occurred_at that is infinite or NaN is treated as absent, never stored."""
    assert parse_time(value) is None
