"""An event's trail expires with its event hash, however many entries are added later."""

from __future__ import annotations

import time

from consumer.delivery.policy import handle_delivery
from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store import keys
from consumer.store.connection import Connections
from tests.helpers import accept_event, context


def test_the_trail_of_a_delivered_event_expires_with_its_event(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """Found by the soak: later trail entries pushed the trail's expiry out to 40 days."""
    accept_event(conns, "evt-t", "u-unknown", time.time(), retention_days=0.01)
    handle_delivery(context(settings, conns), "userdb", "evt-t", "job-1")
    event_ttl = conns.text.ttl(keys.event("userdb", "evt-t"))
    trail_ttl = conns.text.ttl(keys.trail("userdb", "evt-t"))
    assert 0 < event_ttl <= 864
    assert 0 < trail_ttl <= event_ttl + 1
