"""The event hash, its trail and its outcome fields in the 0.3.0 format, and hashes written
in the 0.2.0 format (a running deployment's data) read the same."""

from __future__ import annotations

import json
import time

from consumer.delivery.policy import handle_delivery
from consumer.devtools.sandbox import Sandbox
from consumer.models import DELETED, NOT_MAPPED, Event, Outcome
from consumer.ops.events import show_event
from consumer.settings import Settings
from consumer.store import events, keys, outcomes
from consumer.store.connection import Connections
from tests.helpers import accept_event, context, mapped

AT = 1_790_000_000.25
RID = "0b7e3c1a-5d2f-4e8a-9c6b-1f2e3d4c5b6a"
WHOLE = {"object": "contacts", "outcome": "deleted", "record_id": RID, "http_status": 200}
WHOLE_JSON = json.dumps({**WHOLE, "detail": ""}, separators=(",", ":"))


def _old_event(conns: Connections, event_id: str, **extra: str) -> None:
    """A done event exactly as 0.2.0 stored it: every field, outcomes whole twice, a trail
    that begins with its received entry."""
    fields = {
        "source": "userdb",
        "event_id": event_id,
        "event_type": "contact.deleted",
        "external_id": "u-1",
        "occurred_at": "",
        "received_at": repr(AT),
        "targets": "contacts",
        "hints": "{}",
        "job_id": "job-old",
        "status": "done",
        "attempts": "0",
        f"o:contacts:{RID}": WHOLE_JSON,
        "t:contacts": f"[{WHOLE_JSON}]",
        "completed_at": repr(AT + 2),
        **extra,
    }
    conns.text.hset(keys.event("userdb", event_id), mapping=fields)
    entries = [{"at": AT, "what": "received"}, {"at": AT + 2, "what": "done"}]
    conns.text.rpush(keys.trail("userdb", event_id), *[json.dumps(e) for e in entries])


def test_an_event_stored_by_0_2_0_reads_the_same(conns: Connections) -> None:
    """Its fields, outcomes (whole in t: and o:) and trail read as they did."""
    _old_event(conns, "e-old")
    shown = show_event(conns.text, "userdb", "e-old")
    event = events.load(conns.text, "userdb", "e-old")
    assert event is not None and (event.source, event.event_id) == ("userdb", "e-old")
    assert shown["outcomes"] == {"contacts": ["deleted"]}
    assert [t["what"] for t in shown["trail"]] == ["received", "done"]
    expected = Outcome("contacts", DELETED, RID, 200)
    assert events.target_outcomes(conns.text, "userdb", "e-old") == {"contacts": [expected]}
    assert outcomes.recorded(conns.text, event, "contacts", RID) == expected


def test_a_new_event_has_no_trail_key_and_reads_its_received_entry(conns: Connections) -> None:
    """Waiting for its job, an event stores no trail and no field its key or a default says."""
    accept_event(conns, "e-new", "u-1", AT)
    stored = conns.text.hgetall(keys.event("userdb", "e-new"))
    event = events.load(conns.text, "userdb", "e-new")
    assert not conns.text.exists(keys.trail("userdb", "e-new"))
    assert not {"source", "event_id", "occurred_at", "hints", "attempts"} & set(stored)
    assert event is not None and (event.source, event.event_id, event.attempts) == (
        "userdb",
        "e-new",
        0,
    )
    assert events.trail(conns.text, "userdb", "e-new") == [{"at": AT, "what": "received"}]


def test_a_done_target_points_to_its_record_fields(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """An erased record's outcome is stored once, without what its field name says; the
    target's list names the record, and every reader resolves it."""
    rid = mapped(conns, sandbox, "u-1")
    accept_event(conns, "e-1", "u-1", time.time())
    handle_delivery(context(settings, conns), "userdb", "e-1", "job-1")
    stored = conns.text.hgetall(keys.event("userdb", "e-1"))
    assert json.loads(stored[f"o:contacts:{rid}"]) == {"outcome": "deleted", "http_status": 200}
    assert json.loads(stored["t:contacts"]) == [rid]
    expected = Outcome("contacts", DELETED, rid, 200)
    assert events.target_outcomes(conns.text, "userdb", "e-1") == {"contacts": [expected]}
    assert show_event(conns.text, "userdb", "e-1")["outcomes"] == {"contacts": ["deleted"]}
    trail = events.trail(conns.text, "userdb", "e-1")
    assert [t["what"] for t in trail] == ["received", "run", "attempt", "outcome", "done"]


def test_a_target_keeps_whole_an_outcome_its_record_field_does_not_hold(
    conns: Connections,
) -> None:
    """A reference only where the record field holds that very outcome: an old-format field,
    or an outcome kept under none, is stored whole in the target's list."""
    _old_event(conns, "e-mix", **{"o:contacts:": '{"outcome":"not_mapped"}'})
    kept = Outcome("contacts", NOT_MAPPED)
    unkept = Outcome("contacts", DELETED, "r-2", 200, verified=False)
    record = Outcome("contacts", DELETED, RID, 200)
    events.record_target(conns.text, "userdb", "e-mix", "contacts", [kept, unkept, record])
    stored = json.loads(str(conns.text.hget(keys.event("userdb", "e-mix"), "t:contacts")))
    assert stored == ["", unkept.to_dict(), record.to_dict()]
    found = events.target_outcomes(conns.text, "userdb", "e-mix")
    assert found == {"contacts": [kept, unkept, record]}


def test_a_replay_of_a_0_2_0_event_starts_it_afresh(conns: Connections) -> None:
    """Fields the new format leaves out when they hold their default are reset, not kept."""
    _old_event(conns, "e-replay", attempts="3", status="failed")
    data = events.load_hash(conns.text, "userdb", "e-replay")
    with conns.text.pipeline() as pipe:
        pipe.multi()
        events.reset_for_replay(pipe, data, "job-2", by="t", reason="r", now=AT + 9, ttl=600)
        pipe.execute()
    event = events.load(conns.text, "userdb", "e-replay")
    assert isinstance(event, Event) and (event.attempts, event.job_id) == (0, "job-2")
    assert events.target_outcomes(conns.text, "userdb", "e-replay") == {}
    trail = events.trail(conns.text, "userdb", "e-replay")
    assert [t["what"] for t in trail] == ["received", "done", "replayed"]
