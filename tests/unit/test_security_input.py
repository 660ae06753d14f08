"""The trust boundary for digits and text: ASCII digits only, no lone surrogates (SPEC 5.1a).

Python's isdigit() is true for "²" and "①", which float() and int() then refuse; and a
lone surrogate ("\ud800" in JSON) passes a length check but cannot be encoded for Redis.
Each must be refused where it enters, as a 4xx (or a line error), never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from consumer.errors import InvalidIdentifier, OperatorError
from consumer.models import (
    BY_LIMIT,
    check_event_id,
    check_external_id,
    check_free_text,
    check_object_slug,
    check_record_id,
    check_source_name,
)
from consumer.sources.fields import parse_time
from tests.helpers import (
    SURROGATE,
    UNICODE_DIGITS,
)


@pytest.mark.parametrize("value", UNICODE_DIGITS)
def test_parse_time_reads_only_ascii_digits(value: str) -> None:
    """A time in non-ASCII digits is unreadable (None), never a crash nor a number."""
    assert parse_time(value) is None


@pytest.mark.parametrize(
    "check",
    [
        check_external_id,
        check_event_id,
        check_source_name,
        check_object_slug,
        check_record_id,
    ],
)
@pytest.mark.parametrize("value", [SURROGATE, "u-" + SURROGATE, "\udcff"])
def test_every_identifier_check_refuses_a_lone_surrogate(check: Any, value: str) -> None:
    """A string UTF-8 cannot encode never passes a check (it would fail inside Redis)."""
    with pytest.raises(InvalidIdentifier):
        check(value)


@pytest.mark.parametrize("value", [SURROGATE, "u-" + SURROGATE, "\udcff"])
def test_who_acts_with_a_lone_surrogate_is_refused(value: str) -> None:
    """ "by" is operator free text: a string UTF-8 cannot encode never passes its check."""
    with pytest.raises(OperatorError):
        check_free_text(value, '"by"', BY_LIMIT)


@pytest.mark.parametrize("value", ["a\x85b", "a\x9b31mb", "\x80", "x\x9f"])
def test_an_external_id_with_a_c1_control_character_is_refused(value: str) -> None:
    """C1 controls (U+0080-U+009F; \\x9b is a terminal's CSI) are control characters too."""
    with pytest.raises(InvalidIdentifier):
        check_external_id(value)
