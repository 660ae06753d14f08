"""Every Redis key this service uses, under one prefix.

Sources, objects and record ids are validated before they get here; an external id or
event id may hold ':' so it always stands last in its key.
"""

from __future__ import annotations

PREFIX = "zc"
QUEUE = "zc-erasure"  # the RQ queue (RQ adds its own rq: prefix)
ADMIN_QUEUE = "zc-admin"  # the RQ queue of long admin operations (a large replay)
EVENT_LOG = f"{PREFIX}:events"
AUDIT = f"{PREFIX}:audit"
AUDIT_HEAD = f"{PREFIX}:audit:head"  # string: the hash of the newest audit entry
AUDIT_ANCHOR = f"{PREFIX}:audit:anchor"  # string: the hash of the last trimmed audit entry
CHECKPOINTS = f"{PREFIX}:audit:checkpoints"  # stream: signed checkpoints of the chain head
CHECKPOINT_DUE = f"{PREFIX}:audit:checkpoint:due"  # string with a TTL: the hourly one is taken
METRICS = f"{PREFIX}:metrics"
PAUSE = f"{PREFIX}:pause"
HOLD = f"{PREFIX}:hold"
BUCKET = f"{PREFIX}:bucket"


def dedupe(source: str, event_id: str) -> str:
    """Marks (source, event_id) as accepted; its value is the job id."""
    return f"{PREFIX}:dedupe:{source}:{event_id}"


def event(source: str, event_id: str) -> str:
    """Hash: an event's stored fields and its delivery status."""
    return f"{PREFIX}:event:{source}:{event_id}"


def trail(source: str, event_id: str) -> str:
    """List: an event's history (received, attempts, outcomes) as JSON entries."""
    return f"{PREFIX}:trail:{source}:{event_id}"


def mapping(source: str, obj: str, external_id: str) -> str:
    """Hash: record id -> linked_at (epoch seconds)."""
    return f"{PREFIX}:map:{source}:{obj}:{external_id}"


def tombstone(source: str, external_id: str) -> str:
    """String: when a deletion found no mapping for this external id."""
    return f"{PREFIX}:tomb:{source}:{external_id}"


def erased(obj: str, record_id: str) -> str:
    """String: this record's deletion is recorded (idempotence marker)."""
    return f"{PREFIX}:erased:{obj}:{record_id}"


def claim(obj: str, record_id: str) -> str:
    """String: a run is erasing this record now (expires on its own if that run dies)."""
    return f"{PREFIX}:claim:{obj}:{record_id}"


def sync_cursor(source: str, obj: str, attribute: str) -> str:
    """Hash: where `mappings sync` of one object by one attribute stands (page, count)."""
    return f"{PREFIX}:sync:{source}:{obj}:{attribute}"


TRIMMED = f"{PREFIX}:trimmed"  # set while the last retention trim is recent (one per hour)
PROBE = f"{PREFIX}:probe"  # set while an auth probe slot is taken (one probe per interval)
PENDING = f"{PREFIX}:pending"  # sorted set: events not yet done, scored by received time
WAITING = f"{PREFIX}:waiting"  # set: ids of scheduled jobs waiting for the pause to end
# RQ's scheduled-job registry of our queue (a sorted set scored by due time); resume() moves
# the jobs waiting for the pause to now. Tested against rq's own name for it.
RQ_SCHEDULED = f"rq:scheduled:{QUEUE}"


def admin_job(job_id: str) -> str:
    """Hash: a long admin operation's request, status and progress (GET /admin/jobs/<id>)."""
    return f"{PREFIX}:admin-job:{job_id}"


def admin_job_results(job_id: str) -> str:
    """List: the first results of a long admin operation, as JSON."""
    return f"{PREFIX}:admin-job:{job_id}:results"


# RQ's failed-job registry of our queue (a sorted set scored by when the failure expires):
# the alerts' cursor walks it. Tested against rq's own name for it.
RQ_FAILED = f"rq:failed:{QUEUE}"
ALERTS_RECENT = f"{PREFIX}:alerts:recent"  # list: the last 50 alerts, newest first, as JSON
ALERTS_INCIDENTS = f"{PREFIX}:alerts:incidents"  # hash: open incident kind -> JSON details
ALERTS_HOLD_SINCE = f"{PREFIX}:alerts:hold_since"  # string: when a 429 hold was first seen
ALERTS_FAILED_CURSOR = f"{PREFIX}:alerts:failed:cursor"  # string: highest score alerted
ALERTS_FAILED_AT_CURSOR = f"{PREFIX}:alerts:failed:at_cursor"  # set: job ids at that score
ALERTS_UNSENT = f"{PREFIX}:alerts:unsent"  # list: alerts the webhook did not take, oldest first


def chart_minute(minute: int) -> str:
    """Hash: outcome -> erasures recorded in one minute (epoch minutes), for the status page."""
    return f"{PREFIX}:chart:{minute}"


# Lookup indexes (store/index.py): sorted sets written in the transactions that write what
# they point at, trimmed with it; the external id or record id stands last.
INDEX_SOURCES = f"{PREFIX}:idx:sources"  # set: the sources any index key names
INDEX_OBJECTS = f"{PREFIX}:idx:objects"  # set: the objects any audit record index names
INDEX_READY = f"{PREFIX}:idx:ready"  # hash: events/audit -> when its backfill completed
INDEX_CURSOR = f"{PREFIX}:idx:cursor"  # hash: events/audit -> the last stream id backfilled
# Archives (store/archive.py): audit-<day>.jsonl files written once a day.
AUDIT_ARCHIVED = f"{PREFIX}:audit:archived"  # hash: YYYY-MM-DD -> the day's checkpoint JSON
AUDIT_ARCHIVE_LOCK = f"{PREFIX}:audit:archive:lock"  # set while one worker archives


def event_index(source: str, external_id: str) -> str:
    """Sorted set: the event ids of one external id, scored by received time (seconds)."""
    return f"{PREFIX}:idx:ev:{source}:{external_id}"


def audit_by_external(source: str, external_id: str) -> str:
    """Sorted set: audit stream ids of one external id's entries, scored by id time (ms)."""
    return f"{PREFIX}:idx:au:ext:{source}:{external_id}"


def audit_by_record(obj: str, record_id: str) -> str:
    """Sorted set: audit stream ids of one record's entries, scored by id time (ms)."""
    return f"{PREFIX}:idx:au:rec:{obj}:{record_id}"


# The orphan sweep (delivery/orphans.py): pending events whose RQ job is alive nowhere.
ORPHAN_LOCK = f"{PREFIX}:orphans:lock"  # string with a TTL: one worker sweeps at a time
ORPHAN_CURSOR = f"{PREFIX}:orphans:cursor"  # string: the pending rank the next sweep starts at


def orphan_seen(source: str, event_id: str) -> str:
    """String with a TTL: "<job id> <epoch seconds>", when the sweep first saw it orphaned."""
    return f"{PREFIX}:orphans:seen:{source}:{event_id}"
