"""Small pieces of the operator functions: time parsing, filters, CSV ids, retention."""

from __future__ import annotations

import pytest

from consumer.errors import OperatorError
from consumer.intake import accept
from consumer.models import ParsedEvent
from consumer.ops import Ops, parse_time
from consumer.ops.erase import read_ids
from consumer.ops.events import UNFINISHED, filters_from
from consumer.ops.status import sla_risk
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import events, keys, retention
from consumer.store.connection import Connections

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


def test_trim_drops_entries_older_than_retention_and_keeps_newer(conns: Connections) -> None:
    """Exact trimming by age on both streams."""
    r = conns.text
    old, new = int((NOW - 40 * 86400) * 1000), int((NOW - 86400) * 1000)
    for stream in (keys.EVENT_LOG, keys.AUDIT):
        r.xadd(stream, {"a": "1"}, id=f"{old}-0")
        r.xadd(stream, {"a": "2"}, id=f"{new}-0")
    removed = retention.trim(r, NOW, event_log_days=30, audit_days=400)
    assert removed == {"event_log": 1, "audit": 0, "pending": 0}
    assert [e[0] for e in r.xrange(keys.EVENT_LOG)] == [f"{new}-0"]
    assert r.xlen(keys.AUDIT) == 2


def test_sla_risk_counts_unfinished_events_past_half_and_all_of_the_sla(
    settings: Settings, conns: Connections
) -> None:
    """Unfinished after the SLA is at risk; after half of it, an early warning; done is neither."""
    old, recent = NOW - 100 * 3600, NOW - 40 * 3600  # SLA 72 h: past all of it, past half
    for n, received in enumerate((old, old, recent)):
        event = ParsedEvent("userdb", f"e-{n}", "contact.deleted", f"u-{n}", None, ("contacts",))
        accept(
            conns.text,
            erasure_queue(conns.raw),
            event,
            now=received,
            dedupe_ttl_days=7,
            retention_days=30,
            job_timeout=60,
        )
    events.mark_done(conns.text, "userdb", "e-1", NOW)
    risk = sla_risk(Ops(settings, conns, clock=lambda: NOW), NOW)
    assert (risk["at_risk"], risk["past_half_sla"]) == (1, 2)


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
