"""What a worker's maintenance does beyond RQ's registries: trims, archives, alerts, sweeps."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

import redis
from rq import Queue

from consumer import alerts
from consumer.delivery import orphans
from consumer.ops import archive
from consumer.settings import Settings
from consumer.store import checkpoints, retention

log = logging.getLogger(__name__)


def for_worker(text: redis.Redis, queue: Queue, settings: Settings) -> Callable[[], None]:
    """The housekeeping a worker runs after each registry maintenance: the trims and the
    archive and the alerts, after the orphan sweep (each at most as often as it is due)."""
    trims = functools.partial(trim, text, settings)
    then = alerts.with_alerts(trims, text, queue, settings)
    return orphans.with_sweep(then, text, queue, settings)


def trim(r: redis.Redis, settings: Settings) -> None:
    """The index backfill and daily audit archive, the retention trim, the audit checkpoint."""
    archive.maintain(r, settings, time.time())
    removed = retention.trim_if_due(
        r,
        time.time(),
        settings.intake.event_log_retention_days,
        settings.retention.audit_retention_days,
        every=settings.retention.trim_interval_seconds,
        archiving=bool(settings.audit.archive_dir),
    )
    if removed is not None:
        log.info("retention trim: %s", removed)
    checkpoints.take_if_due(r, settings.signing_key, time.time())
