"""mappings sync: page through GET /crm/{object} and link each record by an attribute's value.

Each record whose attribute holds a valid external id is linked as (source, object, value)
-> record id, with linked_at = the record's createdAt (so a contact re-created after a
deletion event is spared by the stale guard) unless the link already exists. Calls take
tokens from the same bucket as deletions. After each page the next page is saved in a
cursor in Redis, so an interrupted sync resumes where it stopped; pages are re-linked
idempotently. Records created or deleted while a sync runs can shift Zeeg's pages: run the
sync again to catch up.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from consumer.delivery.context import Context
from consumer.errors import DeliveryDeferred, InvalidIdentifier, ZeegAuth, ZeegTransient
from consumer.mappings.files import Row, RowError, parse_linked_at
from consumer.mappings.linking import link_rows
from consumer.models import (
    EventStatus,
    Mapping,
    check_external_id,
    check_object_slug,
    check_record_id,
)
from consumer.store import keys
from consumer.zeeg.crm import RecordPage

log = logging.getLogger(__name__)

ATTRIBUTE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\Z")  # \Z: no final newline


@dataclass
class SyncReport:
    """Where a sync stands: pages done, records seen, links made, records skipped."""

    page: int = 1
    total_pages: int = 0
    records: int = 0
    linked: int = 0
    unchanged: int = 0
    skipped: int = 0
    erasures: int = 0
    resumed_from: int | None = None
    complete: bool = False


def sync(
    ctx: Context,
    source: str,
    obj: str,
    attribute: str,
    count: int = 100,
    on_page: Callable[[SyncReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncReport:
    """Link every record of obj by attribute, resuming from a saved cursor if there is one."""
    cursor = _cursor(source, obj, attribute)
    report, count = _load(ctx, cursor, count)
    while True:
        page = _fetch(ctx, obj, report.page, count, sleep)
        _link_page(ctx, source, obj, attribute, page.records, report, count)
        _advance(ctx, cursor, report, page, count)
        if on_page is not None:
            on_page(report)
        if report.complete:
            return report


def _advance(ctx: Context, cursor: str, report: SyncReport, page: RecordPage, count: int) -> None:
    """Save the next page in the cursor, or drop the cursor after the last page."""
    report.total_pages = max(page.total_pages, report.page)
    # nextPage or totalPages may say there is more; an empty page never does.
    more = page.next_page is not None or report.page < page.total_pages
    if more and page.records:
        report.page += 1
        _save(ctx, cursor, report, count)
    else:
        ctx.r.delete(cursor)
        report.complete = True


def reset(ctx: Context, source: str, obj: str, attribute: str) -> bool:
    """Forget a saved cursor so the next sync starts at page 1; True if there was one."""
    return bool(ctx.r.delete(_cursor(source, obj, attribute)))


def _cursor(source: str, obj: str, attribute: str) -> str:
    """The cursor key, once the object slug and attribute name are checked."""
    check_object_slug(obj)
    if not ATTRIBUTE.fullmatch(attribute):
        raise InvalidIdentifier(f"invalid attribute name {attribute!r}")
    return keys.sync_cursor(source, obj, attribute)


_COUNTERS = ("records", "linked", "unchanged", "skipped", "erasures")


def _load(ctx: Context, cursor: str, count: int) -> tuple[SyncReport, int]:
    saved: dict[str, str] = ctx.r.hgetall(cursor)  # type: ignore[assignment]
    if not saved:
        return SyncReport(), count
    report = SyncReport(page=int(saved["page"]), total_pages=int(saved.get("total_pages", 0)))
    for name in _COUNTERS:
        setattr(report, name, int(saved.get(name, 0)))
    report.resumed_from = report.page
    # The page size of the interrupted run: another size would skip or repeat records.
    return report, int(saved["count"])


def _save(ctx: Context, cursor: str, report: SyncReport, count: int) -> None:
    state: dict[str | bytes, int] = {name: getattr(report, name) for name in _COUNTERS}
    state.update(page=report.page, count=count, total_pages=report.total_pages)
    ctx.r.hset(cursor, mapping=state)  # type: ignore[arg-type]


def _fetch(
    ctx: Context, obj: str, page: int, count: int, sleep: Callable[[float], None]
) -> RecordPage:
    """One list call through the delivery gate; transient errors retried with backoff.

    The gate (on ctx.zeeg) takes the shared token and honours a 429 hold set by any worker;
    a long wait is slept through here (a command, not a job), without spending an attempt.
    An auth pause is not waited out: the sync stops and says why.
    """
    delivery = ctx.settings.delivery
    for attempt in range(1, delivery.max_attempts + 1):
        try:
            return _listed(ctx, obj, page, count, sleep)
        except ZeegTransient as e:
            if attempt == delivery.max_attempts:
                raise
            delay = e.retry_after
            if delay is None:
                delay = min(
                    delivery.backoff_max_seconds, delivery.backoff_base_seconds * 2**attempt
                )
            log.warning("sync %s page %s: %s; retrying in %.1fs", obj, page, e, delay)
            sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _listed(
    ctx: Context, obj: str, page: int, count: int, sleep: Callable[[float], None]
) -> RecordPage:
    while True:
        try:
            return ctx.zeeg.list_records(obj, page, count)
        except DeliveryDeferred as e:
            if e.why == EventStatus.AUTH_PAUSED:
                message = "delivery is paused after a 401/403 from Zeeg; fix the token, then resume"
                raise ZeegAuth(message) from e
            sleep(e.delay)


def _link_page(
    ctx: Context,
    source: str,
    obj: str,
    attribute: str,
    records: list[dict[str, Any]],
    report: SyncReport,
    count: int,
) -> None:
    first = (report.page - 1) * count + 1
    rows = list(_rows(source, obj, attribute, records, first, ctx.clock()))
    done = link_rows(ctx.r, ctx.queue, ctx.settings, rows, ctx.clock())
    report.records += len(records)
    report.linked += done.linked
    report.unchanged += done.unchanged
    report.skipped += done.error_count
    report.erasures += len(done.erasures)


def _rows(
    source: str, obj: str, attribute: str, records: list[dict[str, Any]], first: int, now: float
) -> Iterator[Row | RowError]:
    """A row per record (numbered from 1 across pages); records without a usable value skip."""
    for number, record in enumerate(records, start=first):
        attributes = record.get("attributes")
        value = attributes.get(attribute) if isinstance(attributes, dict) else None
        try:
            external_id = check_external_id(value)
            record_id = check_record_id(str(record.get("id", "")))
        except InvalidIdentifier as e:
            yield RowError(number, str(e))
            continue
        linked_at = parse_linked_at(record.get("createdAt")) or now
        yield Row(Mapping(source, obj, external_id, record_id, linked_at), number, True)
