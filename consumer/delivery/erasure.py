"""Erasing one target of one event: resolve its record ids, guard, DELETE, record outcomes.

Each record's outcome is written as it happens (event hash, audit stream, trail), so a re-run
of the same event skips records already done and never deletes twice.

Resolvers, in the target's order: `payload:<path>` (ids the event carried), `store` (the
mapping store), `assert:<attribute>` (Zeeg's upsert with matchingAttribute = the external id;
not read-only: a match is updated with the value it already has, no match creates a record
that is deleted at once; skipped in dry-run). Nothing found leaves a tombstone. A late-link
event resolves through its one `link` step instead: the record it names, while still linked;
nothing found there means it was unlinked first (not_mapped, and no new tombstone).

With zeeg.verify_deletions a 2xx DELETE is checked with a GET that must answer 404; a
record still found is deleted once more, then flagged: a failed outcome and a failed job.
"""

from __future__ import annotations

import logging

import redis
from redis.client import Pipeline

from consumer import models
from consumer.delivery.context import Context
from consumer.delivery.resolve import LINK, Record, resolve
from consumer.errors import DeliveryDeferred, ZeegError, ZeegRejected
from consumer.intake import LATE_LINK
from consumer.logs import fields
from consumer.models import Event, EventStatus, Outcome
from consumer.settings import Target
from consumer.store import claims, mappings, outcomes
from consumer.zeeg.crm import RecordLookup

log = logging.getLogger(__name__)
CLAIM_WAIT_SECONDS = 1.0  # a run finding a record claimed by another looks again this much later
STILL_FOUND = "still found after DELETE answered 2xx twice (zeeg.verify_deletions)"
Writer = redis.Redis | Pipeline  # a client, or a pipeline batching writes into one round trip


def erase_target(ctx: Context, event: Event, target: Target) -> list[Outcome]:
    """Erase the records of one target, recording each outcome as it happens."""
    target = _chain(event, target)
    records = _with_recorded(ctx, event, target.object, resolve(ctx, event, target))
    outcomes = [_erase_record(ctx, event, target.object, rec) for rec in records]
    if records and not any(rec.created for rec in records):
        return outcomes
    # Nothing found (assert: may have created a record only to delete it): what that means
    # is the chain's to say.
    missed = _unlinked if LINK in target.resolve else _not_found
    return missed(ctx, event, target, outcomes)


def _chain(event: Event, target: Target) -> Target:
    """A late link resolves through its own step only, never the source's chain."""
    return Target(target.object, (LINK,)) if event.event_type == LATE_LINK else target


def _not_found(ctx: Context, event: Event, target: Target, done: list[Outcome]) -> list[Outcome]:
    """Keep a tombstone; not_mapped unless assert: created (and deleted) a record."""
    _tombstone(ctx, event, target)
    return done or [_record(ctx, event, Outcome(target.object, models.NOT_MAPPED))]


def _unlinked(ctx: Context, event: Event, target: Target, done: list[Outcome]) -> list[Outcome]:
    """The late-linked record was unlinked before it was erased; its deletion left the tombstone."""
    rid = next(iter(event.hints.get(target.object, ())), None)
    gone = Outcome(target.object, models.NOT_MAPPED, rid, None, "unlinked before it was erased")
    return done or [_record(ctx, event, gone)]


def _with_recorded(ctx: Context, event: Event, obj: str, records: list[Record]) -> list[Record]:
    """records, plus those an earlier run of this event recorded (their mappings are gone)."""
    known = {rec.record_id for rec in records}
    done = outcomes.recorded_ids(ctx.r, event, obj)
    return records + [Record(rid) for rid in done if rid not in known]


def _tombstone(ctx: Context, event: Event, target: Target) -> None:
    """Keep (source, external_id, deleted_at); erase links that raced in while we looked."""
    now = ctx.clock()
    ttl = int(ctx.settings.retention.tombstone_days * 86400)
    mappings.put_tombstone(ctx.r, event.source, event.external_id, now, ttl)
    if "store" not in target.resolve:
        return
    # A link written between our lookup and the tombstone saw no tombstone: catch it here.
    for m in mappings.get(ctx.r, event.source, target.object, event.external_id):
        if m.linked_at <= now:
            ctx.intake.accept_late_link(m, now, now)


def _erase_record(ctx: Context, event: Event, obj: str, rec: Record) -> Outcome:
    """One record's outcome, under a claim: a concurrent run of the event waits for it.

    Its mapping goes (see _unmap) and the claim is given back in one round trip, in order.
    """
    if not claims.take(ctx.r, obj, rec.record_id, event.job_id, _claim_ttl(ctx)):
        raise DeliveryDeferred(EventStatus.RETRYING, ctx.rng.uniform(0.5, 1.5) * CLAIM_WAIT_SECONDS)
    try:
        outcome = _erase_claimed(ctx, event, obj, rec)
    except BaseException:  # a job timeout too: the claim goes back, the exception goes on
        claims.release(ctx.r, obj, rec.record_id, event.job_id)
        raise
    with ctx.r.pipeline(transaction=False) as pipe:
        _unmap(pipe, event, outcome)
        claims.release(pipe, obj, rec.record_id, event.job_id)
        pipe.execute()
    return outcome


def _claim_ttl(ctx: Context) -> int:
    """Long enough for a record's gated calls (a DELETE; with verify_deletions up to two
    DELETEs and two GETs): the gate's naps and both timeouts of each, with a margin."""
    z, d = ctx.settings.zeeg, ctx.settings.delivery
    calls = 4 if z.verify_deletions else 1
    one = z.connect_timeout_seconds + z.read_timeout_seconds + 2 * d.max_wait_in_job_seconds
    return int(calls * one) + 10


def _erase_claimed(ctx: Context, event: Event, obj: str, rec: Record) -> Outcome:
    earlier = outcomes.recorded(ctx.r, event, obj, rec.record_id)
    if earlier:  # done in an earlier run of this same event (its mapping maybe not removed)
        return earlier
    if rec.created:
        return _erase_created(ctx, event, obj, rec)
    if _is_stale(rec, event):
        return _record(ctx, event, Outcome(obj, models.STALE, rec.record_id), per_record=True)
    if ctx.settings.zeeg.dry_run:
        return _record(ctx, event, Outcome(obj, models.DRY_RUN, rec.record_id), per_record=True)
    if mappings.is_erased(ctx.r, obj, rec.record_id):
        outcome = Outcome(obj, models.ALREADY_DELETED, rec.record_id, None, "deletion recorded")
    else:
        # Unverified, the deletion is marked with the DELETE's trail entry (one round trip);
        # verified, only once the lookups agree.
        check = ctx.settings.zeeg.verify_deletions
        status = _call_delete(ctx, event, obj, rec.record_id, mark=not check)
        kind = models.ALREADY_DELETED if status == 404 else models.DELETED
        verified = _verified(ctx, event, obj, rec.record_id, status)
        outcome = Outcome(obj, kind, rec.record_id, status, verified=verified)
        if check:
            _mark_erased(ctx, ctx.r, event, obj, rec.record_id)
    return _record(ctx, event, outcome, per_record=True)


def _mark_erased(ctx: Context, r: Writer, event: Event, obj: str, record_id: str) -> None:
    ttl = int(ctx.settings.retention.tombstone_days * 86400)
    mappings.mark_erased(r, obj, record_id, f"{event.source}/{event.event_id}", ttl)


def _unmap(r: Writer, event: Event, outcome: Outcome) -> None:
    """Remove a deleted record's mapping, only once its outcome is recorded.

    The other order, cut by a crash, leaves a re-run finding no mapping: a not_mapped
    outcome instead of the deletion that happened.
    """
    if outcome.outcome in (models.DELETED, models.ALREADY_DELETED) and outcome.record_id:
        mappings.remove(r, event.source, outcome.object, event.external_id, outcome.record_id)


def _erase_created(ctx: Context, event: Event, obj: str, rec: Record) -> Outcome:
    """Delete the record assert: created: the outcome stays not_mapped (nothing was found)."""
    status = _call_delete(ctx, event, obj, rec.record_id)
    detail = "no match; assert: created this record and deleted it"
    outcome = Outcome(obj, models.NOT_MAPPED, rec.record_id, status, detail)
    return _record(ctx, event, outcome, per_record=True)


def _is_stale(rec: Record, event: Event) -> bool:
    """A mapping linked after the event occurred belongs to a re-created contact."""
    # Without occurred_at the event occurred before it was received: a replay of it must
    # still spare a contact linked since.
    occurred = event.occurred_at if event.occurred_at is not None else event.received_at
    if rec.linked_at is None or not occurred:
        return False
    return rec.linked_at > occurred


def _call_delete(
    ctx: Context, event: Event, obj: str, record_id: str, *, mark: bool = False
) -> int:
    """One DELETE, with its attempt written to the event's trail either way (one round trip);
    mark: the record's deletion is marked in the same round trip once Zeeg answered."""
    with ctx.r.pipeline(transaction=False) as pipe:
        try:
            result = ctx.zeeg.delete_record(obj, record_id)
        except ZeegError as e:
            outcomes.note_attempt(pipe, event, (obj, record_id), ctx.clock(), e.status, str(e))
            pipe.execute()
            raise
        outcomes.note_attempt(pipe, event, (obj, record_id), ctx.clock(), result.status)
        if mark:
            _mark_erased(ctx, pipe, event, obj, record_id)
        pipe.execute()
    return result.status


def _verified(ctx: Context, event: Event, obj: str, record_id: str, status: int) -> bool | None:
    """zeeg.verify_deletions: True once a GET answers 404; None when not asked to check.

    A record still found after its 2xx is deleted once more and looked up again; found
    then too, the DELETE is not believed: the record's outcome is failed (audited with
    verified false) and the job fails with the reason, visibly and requeueably.
    """
    if not ctx.settings.zeeg.verify_deletions:
        return None
    if status == 404 or not _lookup(ctx, event, obj, record_id).found:
        return True  # a 404 to the DELETE is itself the answer the GET must give
    log.warning(
        "event %s/%s %s %s: still found after DELETE", event.source, event.event_id, obj, record_id
    )
    if _call_delete(ctx, event, obj, record_id) == 404:
        return True
    found = _lookup(ctx, event, obj, record_id)
    if not found.found:
        return True
    flagged = Outcome(obj, models.FAILED, record_id, found.status, STILL_FOUND, verified=False)
    _record(ctx, event, flagged)
    raise ZeegRejected(f"{obj}/{record_id}: {STILL_FOUND}", found.status)


def _lookup(ctx: Context, event: Event, obj: str, record_id: str) -> RecordLookup:
    """GET the record through the gate (the DELETE's limits), its answer on the trail."""
    try:
        lookup = ctx.zeeg.get_record(obj, record_id)
    except ZeegError as e:
        outcomes.note_attempt(ctx.r, event, (obj, record_id), ctx.clock(), e.status, str(e), "GET")
        raise
    outcomes.note_attempt(ctx.r, event, (obj, record_id), ctx.clock(), lookup.status, None, "GET")
    return lookup


def _record(ctx: Context, event: Event, outcome: Outcome, *, per_record: bool = False) -> Outcome:
    """Write one outcome to the event, the audit stream, the trail and the metrics, once.

    per_record: the first run to record the record wins, and another run of the same job
    gets the outcome already recorded (see store.outcomes.record).
    """
    kept = ctx.settings.retention
    outlives = kept.audit_retention_days >= kept.tombstone_days
    earlier = outcomes.record(
        ctx.r, event, outcome, ctx.clock(), per_record=per_record, audit_outlives_marker=outlives
    )
    if earlier is not None:
        return earlier
    log.info(
        "event %s/%s %s %s: %s",
        event.source,
        event.event_id,
        outcome.object,
        outcome.record_id or "-",
        outcome.outcome,
        extra=fields(event.source, event.event_id, event.job_id, outcome.outcome),
    )
    return outcome
