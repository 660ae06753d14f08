"""ZeegClient.list_records and upsert against the sandbox."""

from __future__ import annotations

import pytest

from consumer.devtools.sandbox import Sandbox
from consumer.errors import ZeegRejected
from consumer.settings import Settings
from consumer.zeeg.client import ZeegClient


def test_list_records_follows_the_zeeg_pagination_convention(
    settings: Settings, sandbox: Sandbox
) -> None:
    """page/count in, collection and pagination out: 5 records at 2 a page make 3 pages."""
    sandbox.state.seed("contacts", [{} for _ in range(5)])
    page = ZeegClient(settings.zeeg).list_records("contacts", 3, 2)
    assert (page.page, page.total_pages, page.total, page.next_page) == (3, 3, 5, None)
    assert len(page.records) == 1


def test_list_records_names_the_next_page(settings: Settings, sandbox: Sandbox) -> None:
    """A page before the last one names the next."""
    sandbox.state.seed("contacts", [{} for _ in range(3)])
    assert ZeegClient(settings.zeeg).list_records("contacts", 1, 2).next_page == 2


def test_list_records_with_a_bad_count_is_rejected(settings: Settings, sandbox: Sandbox) -> None:
    """count outside 1-100 is a 400 from Zeeg: ZeegRejected, not retried."""
    with pytest.raises(ZeegRejected):
        ZeegClient(settings.zeeg).list_records("contacts", 1, 500)


def test_upsert_that_matches_answers_200_with_the_record(
    settings: Settings, sandbox: Sandbox
) -> None:
    """A match: status 200, the existing record's id, its createdAt."""
    (rid,) = sandbox.state.seed("contacts", [{"attributes": {"ext": "u-1"}}])
    result = ZeegClient(settings.zeeg).upsert("contacts", {"ext": "u-1"}, "ext")
    assert (result.status, result.record_id, result.created) == (200, rid, False)
    assert result.created_at is not None


def test_upsert_without_a_match_creates_a_record(settings: Settings, sandbox: Sandbox) -> None:
    """No match: status 201 and the id of the record Zeeg created."""
    result = ZeegClient(settings.zeeg).upsert("contacts", {"ext": "u-2"}, "ext")
    assert result.created
    assert list(sandbox.state.records["contacts"]) == [result.record_id]


def test_upsert_of_people_reads_the_person_envelope(settings: Settings, sandbox: Sandbox) -> None:
    """People answer under "person", not "record"."""
    (rid,) = sandbox.state.seed("people", [{"attributes": {"email": "a@example.com"}}])
    result = ZeegClient(settings.zeeg).upsert("people", {"email": "a@example.com"}, "email")
    assert result.record_id == rid
