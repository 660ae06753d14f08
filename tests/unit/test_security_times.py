"""Times at the boundary (a plausible range, units by magnitude) and readers that survive a
bad stored time: search, show, status and the audit export show it raw, never crash or cut."""

from __future__ import annotations

import pytest

from consumer.mappings.files import parse_linked_at
from consumer.sources.fields import parse_time

AT = 1733000000.0  # 2024-11-30T20:53:20Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1733000000, AT),
        ("1733000000", AT),
        (1733000000000, AT),  # milliseconds
        (1733000000000000, AT),  # microseconds
        ("1733000000000000", AT),
        (1733000000000000000, None),  # nanoseconds are not guessed: read as us, too far
        ("2024-11-30T20:53:20Z", AT),
        (946684800, 946684800.0),  # 2000-01-01, the first time taken
        (631152000, None),  # 1990: no webhook is that old
        (4102444800, None),  # 2100-01-01, the first time refused
        ("2150-01-01T00:00:00Z", None),
        (10**13, None),  # milliseconds of the year 2286
        (-1733000000, None),
    ],
)
def test_parse_time_reads_units_by_magnitude_within_2000_to_2100(
    value: object, expected: float | None
) -> None:
    """Seconds, ms and us are told apart by size (their 2000-2100 ranges do not meet)."""
    assert parse_time(value) == expected


def test_a_linked_at_may_be_older_than_2000_but_not_past_2100() -> None:
    """A link's time may be any time since 1970 (as before); after 2100 is not a time."""
    assert parse_linked_at("1990-01-01T00:00:00Z") == 631152000.0
    assert parse_linked_at(1733000000000000) == AT
    assert parse_linked_at("2150-01-01T00:00:00Z") is None
