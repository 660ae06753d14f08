"""End to end: signed webhooks over HTTP, a real RQ worker, the sandbox as Zeeg."""

from __future__ import annotations

import concurrent.futures
import uuid

import requests

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import audit, events, keys, mappings
from consumer.store.connection import Connections
from tests.helpers import drain, signed, userdb_body


def _map(conns: Connections, external_id: str, record_id: str, obj: str = "contacts") -> None:
    mappings.put(conns.text, Mapping("userdb", obj, external_id, record_id, 1.0))


def _post(url: str, settings: Settings, body: bytes, source: str = "userdb") -> requests.Response:
    headers = signed(settings, source, body)
    return requests.post(f"{url}/webhooks/{source}", data=body, headers=headers, timeout=10)


def test_signed_webhook_for_mapped_contact_deletes_the_sandbox_record(
    live_url: str, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """The walking skeleton: webhook -> job -> DELETE -> audit, mapping removed."""
    (rid,) = sandbox.state.seed("contacts", [{"attributes": {"email": "x@example.com"}}])
    _map(conns, "u-1", rid)
    answer = _post(live_url, settings, userdb_body("evt-1", "u-1"))
    assert answer.status_code == 202
    assert answer.json()["status"] == "accepted"
    drain(settings, conns)
    assert rid not in sandbox.state.records["contacts"]
    deletes = [r for r in sandbox.state.requests() if r["method"] == "DELETE"]
    assert deletes == [{**deletes[0], "path": f"/crm/contacts/{rid}", "status": 200}]
    entries = list(audit.entries(conns.text))
    assert [(e["outcome"], e["record_id"], e["http_status"]) for e in entries] == [
        ("deleted", rid, "200")
    ]
    assert mappings.get(conns.text, "userdb", "contacts", "u-1") == []
    assert events.load(conns.text, "userdb", "evt-1").status == "done"  # type: ignore[union-attr]


def test_same_event_three_times_concurrently_makes_one_job_and_one_delete(
    live_url: str, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Dedupe holds under concurrency: one accepted, two duplicates, one DELETE."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    _map(conns, "u-2", rid)
    body = userdb_body("evt-dup", "u-2")
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: _post(live_url, settings, body), range(3)))
    statuses = sorted((a.status_code, a.json()["status"]) for a in answers)
    assert statuses == [(200, "duplicate"), (200, "duplicate"), (202, "accepted")]
    assert len({a.json()["job_id"] for a in answers}) == 1
    assert len(erasure_queue(conns.raw)) == 1
    drain(settings, conns)
    assert [r["method"] for r in sandbox.state.requests()] == ["DELETE"]


def test_record_already_gone_ends_already_deleted_not_failed(
    live_url: str, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """A 404 from Zeeg is success: already_deleted, and the mapping is removed."""
    rid = str(uuid.uuid4())
    _map(conns, "u-3", rid)
    assert _post(live_url, settings, userdb_body("evt-3", "u-3")).status_code == 202
    drain(settings, conns)
    event = events.load(conns.text, "userdb", "evt-3")
    assert event is not None and event.status == "done"
    outcomes = events.target_outcomes(conns.text, "userdb", "evt-3")["contacts"]
    assert [(o.outcome, o.http_status) for o in outcomes] == [("already_deleted", 404)]
    assert mappings.get(conns.text, "userdb", "contacts", "u-3") == []


def test_unmapped_contact_is_not_mapped_with_a_tombstone(
    live_url: str, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """No UUID known: outcome not_mapped, a tombstone is kept, Zeeg is not called."""
    assert _post(live_url, settings, userdb_body("evt-4", "u-4")).status_code == 202
    drain(settings, conns)
    outcomes = events.target_outcomes(conns.text, "userdb", "evt-4")["contacts"]
    assert [o.outcome for o in outcomes] == ["not_mapped"]
    assert conns.text.exists(keys.tombstone("userdb", "u-4"))
    assert sandbox.state.requests() == []


def test_payload_resolver_takes_the_uuid_from_the_event(
    live_url: str, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """payload:data.zeeg_id resolves without any stored mapping (standard-webhooks source)."""
    (rid,) = sandbox.state.seed("customers", [{}])
    body = b'{"type": "user.deleted", "data": {"id": "user_9", "zeeg_id": "%s"}}' % rid.encode()
    answer = _post(live_url, settings, body, source="std")
    assert answer.status_code == 202
    drain(settings, conns)
    assert rid not in sandbox.state.records["customers"]


def test_server_errors_are_retried_until_the_record_is_deleted(
    live_url: str, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """500 then 503 then 200: two retries with backoff, one deletion, attempts on the trail."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    _map(conns, "u-5", rid)
    sandbox.state.set_faults(script=[{"status": 500}, {"status": 503}])
    assert _post(live_url, settings, userdb_body("evt-5", "u-5")).status_code == 202
    drain(settings, conns)
    assert [r["status"] for r in sandbox.state.requests()] == [500, 503, 200]
    trail = events.trail(conns.text, "userdb", "evt-5")
    assert [t["status"] for t in trail if t["what"] == "attempt"] == [500, 503, 200]
    assert events.load(conns.text, "userdb", "evt-5").status == "done"  # type: ignore[union-attr]
