"""The auth probe: while a 401/403 pauses delivery, one cheap call per auth_probe_seconds.

Jobs that find delivery paused run the probe (one across all workers per interval, through
a slot in Redis); a successful answer lifts the pause. An operator's pause is never probed.
"""

from __future__ import annotations

import logging

from consumer.delivery.context import Context
from consumer.errors import DeliveryDeferred, ZeegAuth, ZeegError, ZeegTransient
from consumer.queue import resume
from consumer.store import pause

log = logging.getLogger(__name__)


def delivery_open(ctx: Context, obj: str) -> bool:
    """True if delivery runs, or was paused by a 401/403 and the probe of obj lifted it."""
    state = pause.state(ctx.r)
    if state is None:
        return True
    if state.by != pause.AUTO:
        return False
    if not pause.claim_probe(ctx.r, ctx.settings.delivery.auth_probe_seconds):
        return False
    return probe(ctx, obj)


def probe(ctx: Context, obj: str) -> bool:
    """GET the object's schema; resume delivery unless Zeeg still refuses the token."""
    try:
        ctx.zeeg.get_object(obj, probe=True)
    except ZeegAuth as e:
        log.warning("auth probe: Zeeg still answers %s; delivery stays paused", e.status)
        return False
    except (ZeegTransient, DeliveryDeferred) as e:
        log.warning("auth probe inconclusive (%s); delivery stays paused", e)
        return False
    except ZeegError as e:
        # Any other answer means the token was accepted (e.g. an unknown object: 404).
        log.info("auth probe answered %s: the token is accepted", e.status)
    if resume(ctx.queue, only_by=pause.AUTO).lifted:
        log.warning("auth probe succeeded: delivery resumed")
    return True
