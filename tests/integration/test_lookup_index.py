"""The lookup indexes on real Redis: written by the intake script and the outcome's MULTI,
read by `events search`, GET /admin/events and `audit show`, trimmed with their entries,
backfilled once after an upgrade (the scan answers until then)."""

from __future__ import annotations

import json
import time
from typing import Any

from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.ops.events import Filters, search_events
from consumer.settings import Settings
from consumer.store import index, keys, retention
from consumer.store.connection import Connections
from tests.helpers import accept_event, drain, mapped, post

DAY = 86400


def _ready(conns: Connections) -> None:
    """The indexes of an empty store are complete at once (a fresh deployment)."""
    for kind in index.KINDS:
        assert index.backfill(conns.text, kind, 30)


def _as_json(result: Any) -> Any:
    assert result.exit_code == 0, (result.output, repr(result.exception))
    return json.loads(result.stdout)


def test_the_intake_script_indexes_an_event_once_and_search_reads_the_index(
    conns: Connections,
) -> None:
    """An accepted event is in its external id's index; a duplicate adds nothing; with the
    event log gone, search by external id still finds it (the index answered)."""
    _ready(conns)
    now = time.time()
    accept_event(conns, "e-1", "user:1", now, retention_days=30)
    accept_event(conns, "e-1", "user:1", now + 5, retention_days=30)  # duplicate
    accept_event(conns, "e-2", "user:1", now + 1, retention_days=30)
    key = keys.event_index("userdb", "user:1")
    assert key == "zc:idx:ev:userdb:user:1"
    assert conns.text.zrange(key, 0, -1, withscores=True) == [("e-1", now), ("e-2", now + 1)]
    assert 0 < conns.text.ttl(key) <= 30 * DAY
    conns.text.delete(keys.EVENT_LOG)
    found = search_events(conns.text, Filters(external_id="user:1"))
    assert [e["event_id"] for e in found] == ["e-2", "e-1"]
    assert found[0]["status"] == "queued" and found[0]["external_id"] == "user:1"
    assert search_events(conns.text, Filters(source="clerk", external_id="user:1")) == []


def test_admin_events_by_external_id_answers_from_the_index(
    admin: FlaskClient, conns: Connections
) -> None:
    """GET /admin/events?external_id= reads the index (the log scan would find nothing)."""
    _ready(conns)
    accept_event(conns, "e-1", "u-7", time.time(), retention_days=30)
    conns.text.delete(keys.EVENT_LOG)
    answer = admin.get("/admin/events?external_id=u-7")
    assert answer.status_code == 200
    assert [e["event_id"] for e in answer.get_json()["events"]] == ["e-1"]
    bad = admin.get("/admin/events?external_id=%07")
    assert bad.status_code == 400 and bad.get_json()["error"]


def test_until_backfilled_search_scans_and_reindex_completes_the_index(
    cli: Any, conns: Connections
) -> None:
    """An event stored before the upgrade (no index member) is found by the scan; `audit
    reindex` indexes it and marks the index complete; it is idempotent."""
    accept_event(conns, "e-old", "u-1", time.time(), retention_days=30)
    conns.text.delete(keys.event_index("userdb", "u-1"))  # as an older version stored it
    assert not index.is_ready(conns.text, "events")
    assert [e["event_id"] for e in search_events(conns.text, Filters(external_id="u-1"))] == [
        "e-old"
    ]
    assert _as_json(cli("audit", "reindex", "--json")) == {"events": True, "audit": True}
    assert conns.text.zrange(keys.event_index("userdb", "u-1"), 0, -1) == ["e-old"]
    assert _as_json(cli("audit", "reindex", "--json")) == {"events": True, "audit": True}
    conns.text.delete(keys.EVENT_LOG)
    assert [e["event_id"] for e in search_events(conns.text, Filters(external_id="u-1"))] == [
        "e-old"
    ]


def test_audit_show_by_external_id_and_by_record_id_after_real_erasures(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """A webhook, a worker and the sandbox write the entries; `audit show` finds them by the
    person and by the record, JSON and table, from the index (the stream is not scanned)."""
    _ready(conns)
    rid = mapped(conns, sandbox, "u-1")
    post(client, settings, "e-1", "u-1")
    post(client, settings, "e-2", "u-2")
    drain(settings, conns)
    by_person = _as_json(cli("audit", "show", "--external-id", "u-1", "--json"))
    assert [(e["event_id"], e["outcome"], e["record_id"]) for e in by_person] == [
        ("e-1", "deleted", rid)
    ]
    assert by_person[0]["hash"] and by_person[0]["id"]
    by_record = _as_json(cli("audit", "show", "--record-id", rid.upper(), "--json"))
    assert by_record == by_person
    text = cli("audit", "show", "--external-id", "u-2", "--source", "userdb")
    assert text.exit_code == 0 and "not_mapped" in text.stdout and "EVENT_ID" in text.stdout
    # Proof the index answered: an entry whose index member is gone is not found.
    conns.text.delete(keys.audit_by_external("userdb", "u-2"))
    assert _as_json(cli("audit", "show", "--external-id", "u-2", "--json")) == []


def test_audit_show_validates_its_identifiers(cli: Any) -> None:
    """A record id of the wrong shape, a bad source, both or neither: exit 1, one clear line."""
    for args, words in [
        (["--record-id", "nope"], "record id is not of the 8-4-4-4-12 hex shape"),
        (["--external-id", "u", "--source", "no such!"], "invalid source"),
        ([], "give one of --external-id or --record-id"),
        (["--external-id", "u", "--record-id", "x"], "give one of"),
    ]:
        result = cli("audit", "show", *args)
        assert result.exit_code == 1 and words in result.stderr, result.output


def test_trim_removes_the_index_members_of_trimmed_entries_and_readers_skip_dangling_ones(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Event log and audit entries past retention go with their index members; a member
    naming an entry trimmed without it (a crash between batches) is skipped by audit show."""
    _ready(conns)
    old = time.time() - 40 * DAY
    conns.text.xadd(
        keys.EVENT_LOG,
        {"source": "userdb", "event_id": "e-old", "external_id": "u-9", "received_at": repr(old)},
        id=f"{int(old * 1000)}-0",
    )
    conns.text.zadd(keys.event_index("userdb", "u-9"), {"e-old": old})
    accept_event(conns, "e-new", "u-9", time.time(), retention_days=30)
    mapped(conns, sandbox, "u-1")
    post(client, settings, "e-1", "u-1")
    drain(settings, conns)
    dangling = keys.audit_by_external("userdb", "u-1")
    conns.text.zadd(dangling, {f"{int(old * 1000)}-0": int(old * 1000)})
    removed = retention.trim(conns.text, time.time(), 30, 400)
    assert removed["event_log"] == 1
    assert conns.text.zrange(keys.event_index("userdb", "u-9"), 0, -1) == ["e-new"]
    shown = _as_json(cli("audit", "show", "--external-id", "u-1", "--json"))
    assert [e["event_id"] for e in shown] == ["e-1"]
    # The audit's own trim: every entry is past a retention of 0 days now.
    later = time.time() + 1
    assert retention.trim(conns.text, later, 30, 0)["audit"] == 2  # e-1 and e-new (not mapped)
    assert conns.text.zcard(keys.audit_by_record("contacts", shown[0]["record_id"])) == 0
    assert conns.text.zrange(dangling, 0, -1) == [f"{int(old * 1000)}-0"]
    assert _as_json(cli("audit", "show", "--external-id", "u-1", "--json")) == []


def test_worker_maintenance_backfills_a_slice_at_a_time_until_complete(
    conns: Connections, settings: Settings
) -> None:
    """Events stored before the upgrade: each backfill run indexes its budget from the cursor;
    the run that reaches the end marks the index complete; a worker's maintenance runs it."""
    from consumer.delivery.worker import make_worker
    from consumer.queue import erasure_queue

    for n in range(3):
        accept_event(conns, f"e-{n}", f"u-{n}", time.time(), retention_days=30)
        conns.text.delete(keys.event_index("userdb", f"u-{n}"))
    assert not index.backfill(conns.text, "events", 30, budget=2, batch=2)
    assert conns.text.exists(keys.event_index("userdb", "u-1"))
    assert not conns.text.exists(keys.event_index("userdb", "u-2"))
    make_worker(settings, erasure_queue(conns.raw), text=conns.text).run_maintenance_tasks()
    assert conns.text.zrange(keys.event_index("userdb", "u-2"), 0, -1) == ["e-2"]
    assert index.is_ready(conns.text, "events") and index.is_ready(conns.text, "audit")
