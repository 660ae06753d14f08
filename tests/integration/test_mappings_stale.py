"""The stale guard on replay: a contact re-created after an old event survives its replay."""

from __future__ import annotations

import time
from typing import Any

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.ops import Ops
from consumer.ops import replay as rp
from consumer.ops.events import Filters
from consumer.settings import Settings
from consumer.store import events, mappings
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import RedisServer, default_sources, drain, make_settings, signed, userdb_body


def _send(settings: Settings, conns: Connections, event_id: str, **extra: Any) -> None:
    """A signed userdb deletion of external id u-rc, accepted by the app."""
    body = userdb_body(event_id, "u-rc", **extra)
    client = create_app(settings, redis=conns).test_client()
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 202


def _delete_then_recreate(
    settings: Settings, conns: Connections, sandbox: Sandbox, event_id: str, **extra: Any
) -> tuple[str, str]:
    """The event deletes the contact; a new contact is then linked to the same external id."""
    (old,) = sandbox.state.seed("contacts", [{}])
    mappings.put(conns.text, Mapping("userdb", "contacts", "u-rc", old, 1.0))
    _send(settings, conns, event_id, **extra)
    drain(settings, conns)
    (new,) = sandbox.state.seed("contacts", [{}])
    mappings.put(conns.text, Mapping("userdb", "contacts", "u-rc", new, time.time() + 1))
    return old, new


def _replay(settings: Settings, conns: Connections, event_id: str) -> None:
    ops = Ops(settings, conns)
    (data,) = rp.select(ops, Filters(event_ids=(event_id,), statuses=("done",)))
    assert rp.replay_one(ops, data, by="test", reason="stale guard")["job_id"]
    drain(settings, conns)


def _deleted(sandbox: Sandbox) -> list[str]:
    requests = sandbox.state.requests()
    return [r["path"].rsplit("/", 1)[1] for r in requests if r["method"] == "DELETE"]


def test_replay_of_an_old_event_spares_the_contact_linked_after_it(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Replay: the link made after occurred_at is stale; only the old record was deleted."""
    old, new = _delete_then_recreate(
        settings, conns, sandbox, "evt-rc", created_at=int(time.time()) - 60
    )
    _replay(settings, conns, "evt-rc")
    assert _deleted(sandbox) == [old]
    assert new in sandbox.state.records["contacts"]
    outcomes = events.target_outcomes(conns.text, "userdb", "evt-rc")["contacts"]
    assert [(o.outcome, o.record_id) for o in outcomes] == [("stale", new)]


def test_without_occurred_at_the_receipt_time_guards_a_replay(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    """A source with no occurred_at: a link made after the event was received is stale."""
    sources = default_sources()
    del sources["userdb"]["occurred_at"]
    settings = make_settings(sandbox.url, sources, env={"REDIS_URL": redis_server.url})
    old, new = _delete_then_recreate(settings, conns, sandbox, "evt-no-time")
    _replay(settings, conns, "evt-no-time")
    assert _deleted(sandbox) == [old]
    assert new in sandbox.state.records["contacts"]
