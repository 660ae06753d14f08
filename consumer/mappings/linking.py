"""Every way a mapping comes in (import, set, admin API, sync) goes through link_rows.

Late link: a mapping registered for an external id that carries a tombstone (a deletion
found no mapping for it) is erased at once, unless its linked_at is later than the
tombstone's deleted_at or its object is not one of the source's targets. The erasure is an
event of type `mapping.late_link` for that one record, built and accepted by the intake
service like a webhook, so it is deduplicated, audited and retried the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import redis

from consumer.intake import Intake
from consumer.mappings.files import Row, RowError
from consumer.models import Mapping
from consumer.queue import Queue
from consumer.settings import Settings
from consumer.store import mappings

BATCH = 1000
MAX_ERRORS = 1000  # row errors kept for the report; the rest are only counted


@dataclass
class LinkReport:
    """What one way in did: new links, links already there, erasures enqueued, bad rows."""

    linked: int = 0
    unchanged: int = 0
    erasures: list[str] = field(default_factory=list)
    spared: int = 0  # links to a tombstoned id made after its deletion: they stay
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-able data."""
        return {
            "linked": self.linked,
            "unchanged": self.unchanged,
            "erasures": self.erasures,
            "spared": self.spared,
            "error_count": self.error_count,
            "errors": [{"line": e.line, "reason": e.reason} for e in self.errors],
        }


def link_rows(
    r: redis.Redis,
    queue: Queue,
    settings: Settings,
    rows: Iterable[Row | RowError],
    now: float,
    progress: Callable[[int], None] | None = None,
) -> LinkReport:
    """Write valid rows in pipelined batches; erase late links; collect the bad rows."""
    report = LinkReport()
    batch: list[Row] = []
    for row in rows:
        if isinstance(row, Row) and row.mapping.source not in settings.sources:
            row = RowError(row.line, f"source {row.mapping.source!r} is not configured")
        if isinstance(row, RowError):
            report.error_count += 1
            if len(report.errors) < MAX_ERRORS:
                report.errors.append(row)
            continue
        batch.append(row)
        if len(batch) >= BATCH:
            _flush(r, queue, settings, batch, now, report, progress)
    _flush(r, queue, settings, batch, now, report, progress)
    return report


def _flush(
    r: redis.Redis,
    queue: Queue,
    settings: Settings,
    batch: list[Row],
    now: float,
    report: LinkReport,
    progress: Callable[[int], None] | None,
) -> None:
    if not batch:
        return
    for done in mappings.put_many(r, [(row.mapping, row.keep_linked_at) for row in batch]):
        if done.new:
            report.linked += 1
        else:
            report.unchanged += 1
        if done.deleted_at is None or not _is_target(settings, done.mapping):
            continue
        if done.mapping.linked_at <= done.deleted_at:
            late = Intake(r, queue, settings).accept_late_link(done.mapping, done.deleted_at, now)
            report.erasures.append(late.event_id)
        else:
            report.spared += 1
    if progress is not None:
        progress(len(batch))
    batch.clear()


def _is_target(settings: Settings, m: Mapping) -> bool:
    """Whether the mapping's object is erased for its source: a deletion never touches others."""
    return any(t.object == m.object for t in settings.sources[m.source].targets)
