"""Resolving one target of one event to record ids: the target's chain of resolvers.

Resolvers, in the target's order: `payload:<path>` (ids the event carried), `store` (the
mapping store), `assert:<attribute>` (Zeeg's upsert with matchingAttribute = the external id;
skipped in dry-run), and a late link's one `link` step (the record it names, while linked).
See consumer/delivery/erasure.py for what is done with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from consumer.delivery.context import Context
from consumer.errors import InvalidIdentifier, ZeegRejected
from consumer.models import Event
from consumer.settings import Target
from consumer.store import mappings, outcomes

LINK = "link"  # a late link's one resolver step: the record it names, while still linked


@dataclass(frozen=True)
class Record:
    """A resolved record id; linked_at when known (stale guard); created by assert: or not."""

    record_id: str
    linked_at: float | None = None
    created: bool = False


def resolve(ctx: Context, event: Event, target: Target) -> list[Record]:
    """Record ids for one target: the first resolver in the chain that finds any wins."""
    for step in target.resolve:
        found = _resolve_step(ctx, event, target.object, step)
        if found:
            return found
    return []


def _resolve_step(ctx: Context, event: Event, obj: str, step: str) -> list[Record]:
    if step == LINK:
        return _late_link(ctx, event, obj)
    if step.startswith("payload:"):
        return [Record(rid) for rid in event.hints.get(obj, ())]
    if step == "store":
        return [
            Record(m.record_id, m.linked_at)
            for m in mappings.get(ctx.r, event.source, obj, event.external_id)
        ]
    if step.startswith("assert:") and not ctx.settings.zeeg.dry_run:
        return [_assert(ctx, event, obj, step[len("assert:") :])]
    return []


def _late_link(ctx: Context, event: Event, obj: str) -> list[Record]:
    """A late-link erasure concerns exactly the record it names, and only while it is linked."""
    linked = {
        m.record_id: m.linked_at for m in mappings.get(ctx.r, event.source, obj, event.external_id)
    }
    # Unlinked before the job ran (an operator undoing a bad import): nothing to delete.
    return [Record(rid, linked[rid]) for rid in event.hints.get(obj, ()) if rid in linked]


def _assert(ctx: Context, event: Event, obj: str, attribute: str) -> Record:
    """Upsert by attribute = external id: 200 is the record to delete, 201 one we created.

    The created id is kept on the event first, so a retry whose upsert now matches the
    record we created still knows it as ours (not_mapped, not deleted).
    """
    try:
        result = ctx.zeeg.upsert(obj, {attribute: event.external_id}, attribute)
    except InvalidIdentifier as e:
        raise ZeegRejected(f"upsert answered without a valid record id: {e}") from e
    if result.created:
        outcomes.note_created(ctx.r, event, obj, result.record_id)
        return Record(result.record_id, None, created=True)
    if outcomes.created(ctx.r, event, obj) == result.record_id:
        return Record(result.record_id, None, created=True)
    # createdAt as linked_at: a contact re-created after the event survives its replay.
    return Record(result.record_id, result.created_at)
