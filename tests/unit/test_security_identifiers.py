"""A trailing newline never slips through an identifier check ("$" matches before one)."""

from __future__ import annotations

import json
import uuid

import pytest

from consumer.errors import ConfigError, InvalidIdentifier
from consumer.mappings.files import Row, read_rows
from consumer.models import check_object_slug, check_record_id
from tests.helpers import default_sources, make_settings

RID = str(uuid.uuid4())


@pytest.mark.parametrize("value", [RID + "\n", RID.upper() + "\n"])
def test_a_record_id_with_a_trailing_newline_is_refused(value: str) -> None:
    """It would reach a DELETE URL and an erased: key with the newline in it."""
    with pytest.raises(InvalidIdentifier):
        check_record_id(value)


def test_an_object_slug_with_a_trailing_newline_is_refused() -> None:
    """It would reach a Zeeg URL and Redis keys with the newline in it."""
    with pytest.raises(InvalidIdentifier):
        check_object_slug("contacts\n")


@pytest.mark.parametrize("field", ["source", "object", "record_id"])
def test_an_import_row_with_a_trailing_newline_in_an_identifier_is_refused(field: str) -> None:
    """JSON lines can carry a newline inside a string: the row is an error, not a link."""
    row = {"source": "userdb", "object": "contacts", "external_id": "u-1", "record_id": RID}
    row[field] += "\n"
    (result,) = read_rows([json.dumps(row) + "\n"])
    assert not isinstance(result, Row)


def test_a_configured_source_name_with_a_trailing_newline_is_refused() -> None:
    """A source name becomes part of every key of its events."""
    bad = {"userdb\n": default_sources()["userdb"]}
    with pytest.raises(ConfigError, match="name must match"):
        make_settings(sources_toml=bad)


# --- identifier attacks end to end: whatever enters, only valid ids reach a Zeeg URL ---------
