"""Small pieces of the operator functions: time parsing, filters, CSV ids, retention."""

from __future__ import annotations

import pytest

from consumer.errors import OperatorError
from consumer.ops import parse_time
from consumer.ops.erase import read_ids
from consumer.ops.events import UNFINISHED, filters_from

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - 7200),
        ("30m", NOW - 1800),
        ("7d", NOW - 7 * 86400),
        ("1700000000", 1_700_000_000.0),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20", 1_700_000_000.0),
        ("", None),
    ],
)
def test_parse_time_reads_ages_epochs_and_iso(text: str, expected: float | None) -> None:
    """Ages count back from now; naive ISO times are UTC."""
    assert parse_time(text, NOW) == expected


def test_parse_time_refuses_other_text() -> None:
    """Anything else is an OperatorError naming the value."""
    with pytest.raises(OperatorError, match="tomorrow"):
        parse_time("tomorrow", NOW)


def test_unfinished_status_expands_to_every_unfinished_status() -> None:
    """status=unfinished names every status that is not done or running."""
    assert filters_from({"status": "unfinished"}, NOW).statuses == UNFINISHED


@pytest.mark.parametrize(
    "data", [{"status": "lost"}, {"outcome": "gone"}, {"event_id": "a\nb"}, {"since": "soon"}]
)
def test_bad_filters_are_operator_errors(data: dict[str, str]) -> None:
    """Unknown statuses or outcomes, bad ids and unreadable times are refused."""
    with pytest.raises(OperatorError):
        filters_from(data, NOW)


def test_read_ids_uses_the_external_id_column_under_a_header() -> None:
    """A header row selects the external_id column."""
    assert read_ids(["name,external_id", "a,u-1", "b,u-2"]) == ["u-1", "u-2"]


def test_read_ids_without_a_header_takes_the_first_column() -> None:
    """Without a header every row's first cell is an id."""
    assert read_ids(["u-1", "u-2,extra", ""]) == ["u-1", "u-2"]


def test_read_ids_names_the_row_of_a_bad_id() -> None:
    """An id too long is refused with its row number."""
    with pytest.raises(OperatorError, match="row 3"):
        read_ids(["external_id", "u-1", "x" * 300])


@pytest.mark.parametrize("text", ["nan", "inf", "1e300", "-5", "99999999d", "0001-01-01"])
def test_parse_time_refuses_times_no_stream_id_can_hold(text: str) -> None:
    """NaN, infinities and times outside 1970-9999 are an OperatorError, not a Redis error."""
    with pytest.raises(OperatorError, match="out of range"):
        parse_time(text, NOW)


def test_filters_take_an_external_id_given_as_a_json_number_as_text() -> None:
    """An admin body's numeric external id matches the stored (text) one."""
    assert filters_from({"external_id": 5}, NOW).external_id == "5"


def test_filters_refuse_a_source_that_is_not_a_string() -> None:
    """A list or number as source is refused rather than silently matching nothing."""
    with pytest.raises(OperatorError, match="source"):
        filters_from({"source": ["userdb"]}, NOW)
