"""status sees live workers; replay rebuilds an event whose record expired; ids with commas."""

from __future__ import annotations

from consumer.ops.events import filters_from


def test_event_id_filter_keeps_commas_inside_an_id() -> None:
    """An event id is taken whole: ids may contain commas."""
    assert filters_from({"event_id": "a,b"}, 0.0).event_ids == ("a,b",)
    assert filters_from({"event_id": ["a,b", "c"]}, 0.0).event_ids == ("a,b", "c")
