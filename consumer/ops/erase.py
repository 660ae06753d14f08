"""Manual erasure (the GDPR desk's path): an event built by hand, through the same intake,
job, Zeeg calls and audit as a webhook.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable
from typing import Any

from consumer import csvcell
from consumer.errors import InvalidIdentifier, NotFound, OperatorError
from consumer.logs import fields
from consumer.models import check_external_id, quoted
from consumer.ops import Ops
from consumer.settings import SourceConfig
from consumer.store import events

DEFAULT_REASON = "manual erasure"
log = logging.getLogger(__name__)


def _source(ops: Ops, name: str) -> SourceConfig:
    source = ops.settings.sources.get(name)
    if source is None:
        known = ", ".join(sorted(ops.settings.sources)) or "none configured"
        raise NotFound(f"no source named {quoted(name)} (known: {known})")
    return source


def erase(ops: Ops, source_name: str, external_id: str, *, by: str, reason: str) -> dict[str, Any]:
    """Accept a manual deletion of external_id for every target of the source."""
    now, source = ops.clock(), _source(ops, source_name)
    try:
        event, result = ops.intake.accept_manual(source, external_id, now)
    except InvalidIdentifier as e:
        raise OperatorError(str(e)) from e
    events.note(ops.r, event.source, event.event_id, "manual", now, by=by, reason=reason)
    log.info(
        "manual erasure %s/%s accepted (by %s)",
        event.source,
        event.event_id,
        by,
        extra=fields(event.source, event.event_id),
    )
    return {
        "source": event.source,
        "external_id": event.external_id,
        "event_id": result.event_id,
        "job_id": result.job_id,
    }


def read_ids(lines: Iterable[str]) -> list[str]:
    """External ids from a CSV: an external_id column under a header, else the first column."""
    rows = [row for row in csv.reader(lines) if row and any(c.strip() for c in row)]
    if not rows:
        raise OperatorError("the CSV holds no external ids")
    header = [c.strip().lower() for c in rows[0]]
    column = header.index("external_id") if "external_id" in header else None
    body = rows[1:] if column is not None else rows
    ids = []
    for number, row in enumerate(body, start=2 if column is not None else 1):
        value = row[column or 0].strip() if len(row) > (column or 0) else ""
        value = csvcell.restore(value)  # an exported CSV's "'=x" is the id "=x"
        try:
            ids.append(check_external_id(value))
        except InvalidIdentifier:
            raise OperatorError(f"CSV row {number}: not a valid external id") from None
    return ids
