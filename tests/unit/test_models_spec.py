"""SPEC §5.5: identifiers are checked whole before any URL or key is built."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from consumer.errors import ConfigError, InvalidIdentifier
from consumer.models import check_object_slug, check_record_id
from consumer.settings import settings_from_dict

RID = "0f8fad5b-d9cb-469f-a165-70867728950e"


@pytest.mark.parametrize(
    ("check", "value"), [(check_object_slug, "contacts\n"), (check_record_id, RID + "\n")]
)
def test_a_trailing_newline_is_refused(check: Callable[[str], str], value: str) -> None:
    """A slug or record id followed by a newline never passes (Python's $ would let it)."""
    with pytest.raises(InvalidIdentifier):
        check(value)


# A minimal valid source: each test changes one thing about it.
TOKEN_SOURCE = {
    "scheme": "token",
    "secret_env": "S",
    "event_types": ["contact.deleted"],
    "event_id": "id",
    "external_id": "data.id",
    "targets": [{"object": "contacts"}],
}


def test_a_source_name_with_a_trailing_newline_fails_the_configuration() -> None:
    """[sources."userdb\\n"] is refused at start like any other bad name."""
    with pytest.raises(ConfigError, match="name must match"):
        settings_from_dict(
            {"sources": {"userdb\n": TOKEN_SOURCE}}, {"S": "token-of-16-bytes"}, "test"
        )


def test_a_resolver_with_a_trailing_newline_fails_the_configuration() -> None:
    """resolve = ["store\\n"] is an unknown resolver, not a silent "store"."""
    body = {**TOKEN_SOURCE, "targets": [{"object": "contacts", "resolve": ["store\n"]}]}
    with pytest.raises(ConfigError, match="unknown resolver"):
        settings_from_dict({"sources": {"userdb": body}}, {"S": "token-of-16-bytes"}, "test")
