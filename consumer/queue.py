"""The RQ queue that carries erasure jobs (JSON serializer, small primitive arguments)."""

from __future__ import annotations

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from consumer.store import keys

JOB_FUNC = "consumer.delivery.jobs.deliver"


def erasure_queue(raw: redis.Redis) -> Queue:
    """The queue on a bytes connection, as RQ requires."""
    return Queue(keys.QUEUE, connection=raw, serializer=JSONSerializer)
