"""Erasure receipts: one event's erasure as a signed JSON document, and its offline check.

A receipt states what this service did and saw for one event: the event's ids and times,
each record it erased (or found none of) with the outcome, HTTP status and time, and the
hash of each record's audit entry, so an auditor can find those entries in a verified
export. It proves what this service recorded and signed, not what Zeeg stores.
"""

from __future__ import annotations

from typing import Any

import redis

from consumer import __version__, signing
from consumer.errors import Conflict
from consumer.models import EventStatus, json_object
from consumer.ops import Ops, iso, shown_int
from consumer.ops import events as ev
from consumer.store import audit, checkpoints, events, index, keys, search

TERMINAL = (EventStatus.DONE, EventStatus.FAILED)
# How far an audit entry's stream id (the Redis server's clock) may lie from the outcome's
# trail time (the worker's clock), in seconds: the window each lookup reads around an outcome.
CLOCK_SLACK = 60.0
# The most audit entries one person's index is read for: every event about them, each record.
PERSON_ENTRIES = 10_000


def receipt(ops: Ops, source: str, event_id: str) -> dict[str, Any]:
    """The receipt of a done or failed event, signed when AUDIT_SIGNING_KEY is set."""
    shown = ev.show_event(ops.r, source, event_id)  # validates both names; NotFound
    if shown["status"] not in TERMINAL:
        raise Conflict(
            f"event {source}/{event_id} is {shown['status']}: a receipt is issued once its "
            "erasure is done or failed"
        )
    doc = {"type": "erasure-receipt", "version": 1, "issuer": f"zeeg-consumer {__version__}"}
    for name in ("source", "event_id", "event_type", "external_id", "status"):
        doc[name] = shown[name]
    for name in ("received_at", "occurred_at", "completed_at", "last_error"):
        doc[name] = shown[name]
    doc["records"] = audit_records(ops.r, source, event_id, shown["external_id"])
    doc["chain_head"] = checkpoints.chain_state(ops.r)["head"]
    doc["issued_at"] = iso(ops.clock())
    return signing.sign(doc, ops.settings.signing_key)


def audit_records(
    r: redis.Redis, source: str, event_id: str, external_id: str | None
) -> list[dict[str, Any]]:
    """The event's audit entries, oldest first: read through the person's audit index once it
    is complete, found around each outcome on the event's trail before that."""
    if external_id and index.is_ready(r, "audit"):
        key = keys.audit_by_external(source, external_id)
        rows = search.indexed_audit(r, [key], None, None, PERSON_ENTRIES)
    else:
        rows = _around_outcomes(r, source, event_id)
    found = {i: f for i, f in rows if f.get("event_id") == event_id and f.get("source") == source}
    return [_record({**found[i], "id": i}) for i in sorted(found, key=search.id_order)]


def _around_outcomes(
    r: redis.Redis, source: str, event_id: str
) -> list[tuple[str, dict[str, str]]]:
    """The audit entries within CLOCK_SLACK of each outcome on the event's trail."""
    found: dict[str, dict[str, str]] = {}
    for entry in events.trail(r, source, event_id):
        at = entry.get("at")
        if entry.get("what") != "outcome" or not isinstance(at, int | float):
            continue
        for row in audit.entries(r, at - CLOCK_SLACK, at + CLOCK_SLACK):
            found[row["id"]] = row
    return list(found.items())


def _record(fields: dict[str, str]) -> dict[str, Any]:
    return {
        "object": fields.get("object"),
        "record_id": fields.get("record_id") or None,
        "outcome": fields.get("outcome"),
        "http_status": shown_int(fields.get("http_status") or None),
        "completed_at": iso(fields.get("completed_at") or None),
        "audit_id": fields["id"],
        "audit_hash": fields.get("hash") or None,  # None: written before the chain existed
    }


def verify(text: str, public_key: str) -> str | None:
    """Why a receipt file does not verify under the public key, or None when it does."""
    doc = json_object(text)
    if doc is None or doc.get("type") != "erasure-receipt":
        return "the file is not an erasure receipt"
    return signing.problem(doc, signing.load_public(public_key))
