"""SPEC §5.5: identifiers are checked whole before any URL or key is built."""

from __future__ import annotations

import pytest

from consumer.errors import InvalidIdentifier
from consumer.mappings.sync import reset
from consumer.store.connection import Connections
from tests.helpers import context, make_settings


def test_a_sync_attribute_with_a_trailing_newline_is_refused(conns: Connections) -> None:
    """mappings sync never builds a cursor key from an attribute ending in a newline."""
    with pytest.raises(InvalidIdentifier):
        reset(context(make_settings(), conns), "userdb", "contacts", "email\n")
