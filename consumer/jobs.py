"""Jobs enqueued before 0.2.0 name `consumer.jobs.deliver`: this keeps them runnable.

A running deployment upgrades in place with its queue; new jobs name
`consumer.delivery.jobs.deliver` (see consumer/queue.py).
"""

from consumer.delivery.jobs import deliver

__all__ = ["deliver"]
