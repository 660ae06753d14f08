"""ZeegClient.list_records and upsert against the sandbox."""

from __future__ import annotations

import pytest

from consumer.zeeg.crm import RecordPage


@pytest.mark.parametrize(
    "paging",
    [
        {"totalPages": "x", "currentPage": None, "total": [1]},
        {"totalPages": float("nan"), "nextPage": float("inf")},
        {"totalPages": 2.5, "nextPage": True},
    ],
)
def test_a_page_with_malformed_pagination_reads_as_the_last(paging: dict[str, object]) -> None:
    """Numbers that are not whole numbers count as absent: the sync stops, it does not crash."""
    page = RecordPage.from_body(1, {"collection": [{"id": "x"}], "pagination": paging})
    assert (page.page, page.total_pages, page.next_page) == (1, 0, None)
    assert page.records == [{"id": "x"}]
