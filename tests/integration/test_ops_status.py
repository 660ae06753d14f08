"""status sees live workers; replay rebuilds an event whose record expired; ids with commas."""

from __future__ import annotations

from flask.testing import FlaskClient
from rq import Worker
from rq.serializers import JSONSerializer

from consumer.devtools.sandbox import Sandbox
from consumer.ops import Ops
from consumer.ops import replay as rp
from consumer.ops.events import Filters
from consumer.ops.status import status
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import events, keys
from consumer.store.connection import Connections
from tests.helpers import drain, failed_events


def test_status_lists_live_workers_by_name(settings: Settings, conns: Connections) -> None:
    """A registered RQ worker on the erasure queue shows in status until it stops."""
    worker = Worker(
        [erasure_queue(conns.raw)], connection=conns.raw, serializer=JSONSerializer, name="w-1"
    )
    worker.register_birth()
    try:
        assert status(Ops(settings, conns))["workers"] == ["w-1"]
    finally:
        worker.register_death()
    assert status(Ops(settings, conns))["workers"] == []


def test_replay_rebuilds_an_event_whose_record_expired_from_the_event_log(
    client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """The event log alone is enough: the record is rebuilt and the deletion happens."""
    (rid,) = failed_events(client, settings, conns, sandbox, 1, recover=True)
    conns.text.delete(keys.event("userdb", "e-1"))
    ops = Ops(settings, conns)
    selected = rp.select(ops, Filters(statuses=("expired",)))
    assert [e["event_id"] for e in selected] == ["e-1"]
    list(rp.replay(ops, selected, by="test", reason="record expired"))
    drain(settings, conns)
    assert rid not in sandbox.state.records["contacts"]
    event = events.load(conns.text, "userdb", "e-1")
    assert event is not None and event.status == "done" and event.external_id == "u-1"
