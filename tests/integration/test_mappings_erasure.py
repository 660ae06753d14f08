"""Mappings in erasure: late link, stale guard, per-target retries, the assert: resolver."""

from __future__ import annotations

import time
from typing import Any

from consumer.devtools.sandbox import Sandbox
from consumer.mappings.files import read_rows
from consumer.mappings.linking import link_rows
from consumer.models import Mapping
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import audit, events, keys, mappings
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import (
    RedisServer,
    default_sources,
    deletes,
    drain,
    make_settings,
    signed,
    userdb_body,
)


def _settings(sandbox: Sandbox, redis_server: RedisServer, *targets: dict[str, Any]) -> Settings:
    sources = default_sources()
    sources["userdb"]["targets"] = list(targets)
    return make_settings(sandbox.url, sources, env={"REDIS_URL": redis_server.url})


def _send(settings: Settings, conns: Connections, event_id: str, external_id: str) -> None:
    """A signed userdb deletion that occurred a few seconds from now, accepted by the app."""
    body = userdb_body(event_id, external_id, created_at=int(time.time()) + 5)
    client = create_app(settings, redis=conns).test_client()
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 202


def _outcomes(conns: Connections, event_id: str, obj: str) -> list[str]:
    return [o.outcome for o in events.target_outcomes(conns.text, "userdb", event_id)[obj]]


def test_mapping_imported_after_a_not_mapped_deletion_is_erased_without_another_event(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Late link: not_mapped first, then an import of the link deletes the record by itself."""
    _send(settings, conns, "evt-late", "u-late")
    drain(settings, conns)
    assert _outcomes(conns, "evt-late", "contacts") == ["not_mapped"]
    (rid,) = sandbox.state.seed("contacts", [{}])
    csv = ["source,object,external_id,record_id\n", f"userdb,contacts,u-late,{rid}\n"]
    report = link_rows(conns.text, erasure_queue(conns.raw), settings, read_rows(csv), time.time())
    assert len(report.erasures) == 1
    drain(settings, conns)
    assert [(r["path"], r["status"]) for r in deletes(sandbox)] == [(f"/crm/contacts/{rid}", 200)]
    assert mappings.get(conns.text, "userdb", "contacts", "u-late") == []
    assert conns.text.exists(keys.tombstone("userdb", "u-late"))
    outcomes = [(e["external_id"], e["outcome"]) for e in audit.entries(conns.text)]
    assert outcomes == [("u-late", "not_mapped"), ("u-late", "deleted")]


def test_mapping_linked_after_the_tombstone_is_kept(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """A link whose linked_at is later than the deletion belongs to a re-created contact."""
    conns.text.set(keys.tombstone("userdb", "u-new"), repr(time.time() - 60))
    (rid,) = sandbox.state.seed("contacts", [{}])
    row = f"userdb,contacts,u-new,{rid},{int(time.time())}\n"
    rows = read_rows(["source,object,external_id,record_id,linked_at\n", row])
    report = link_rows(conns.text, erasure_queue(conns.raw), settings, rows, time.time())
    assert (report.erasures, report.spared) == ([], 1)
    assert len(erasure_queue(conns.raw)) == 0


def test_mapping_linked_after_the_event_time_survives_as_stale(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Stale guard: a link made after the event occurred is not deleted, and stays."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    mappings.put(conns.text, Mapping("userdb", "contacts", "u-st", rid, time.time() + 3600))
    _send(settings, conns, "evt-stale", "u-st")
    drain(settings, conns)
    assert _outcomes(conns, "evt-stale", "contacts") == ["stale"]
    assert rid in sandbox.state.records["contacts"]
    assert [(r["path"], r["status"]) for r in deletes(sandbox)] == []
    assert len(mappings.get(conns.text, "userdb", "contacts", "u-st")) == 1


def test_fan_out_retries_only_the_failing_target(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    """Two targets: the done one gets one DELETE; the one answering 500 twice is retried."""
    settings = _settings(sandbox, redis_server, {"object": "customers"}, {"object": "contacts"})
    (cust,) = sandbox.state.seed("customers", [{}])
    (cont,) = sandbox.state.seed("contacts", [{}])
    for obj, rid in (("customers", cust), ("contacts", cont)):
        mappings.put(conns.text, Mapping("userdb", obj, "u-fan", rid, 1.0))
    fault = {"status": 500, "only": "DELETE /crm/contacts/"}
    sandbox.state.set_faults(script=[fault, fault])
    _send(settings, conns, "evt-fan", "u-fan")
    drain(settings, conns)
    assert [(r["path"], r["status"]) for r in deletes(sandbox)] == [
        (f"/crm/customers/{cust}", 200),
        (f"/crm/contacts/{cont}", 500),
        (f"/crm/contacts/{cont}", 500),
        (f"/crm/contacts/{cont}", 200),
    ]
    assert _outcomes(conns, "evt-fan", "customers") == ["deleted"]
    assert _outcomes(conns, "evt-fan", "contacts") == ["deleted"]


def test_assert_resolver_deletes_the_record_the_upsert_matched(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    """assert:, 200 branch: the matched record is the one deleted."""
    settings = _settings(
        sandbox, redis_server, {"object": "contacts", "resolve": ["store", "assert:ext"]}
    )
    (rid,) = sandbox.state.seed("contacts", [{"attributes": {"ext": "u-as"}}])
    _send(settings, conns, "evt-as", "u-as")
    drain(settings, conns)
    calls = [(r["method"], r["status"]) for r in sandbox.state.requests()]
    assert calls == [("PUT", 200), ("DELETE", 200)]
    assert rid not in sandbox.state.records["contacts"]
    assert _outcomes(conns, "evt-as", "contacts") == ["deleted"]


def test_assert_resolver_deletes_what_it_created_and_records_not_mapped(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    """assert:, 201 branch: the record the upsert created is deleted; the outcome is not_mapped."""
    settings = _settings(sandbox, redis_server, {"object": "contacts", "resolve": ["assert:ext"]})
    (other,) = sandbox.state.seed("contacts", [{"attributes": {"ext": "someone-else"}}])
    _send(settings, conns, "evt-nm", "u-none")
    drain(settings, conns)
    calls = [(r["method"], r["status"]) for r in sandbox.state.requests()]
    assert calls == [("PUT", 201), ("DELETE", 200)]
    assert list(sandbox.state.records["contacts"]) == [other]
    (outcome,) = events.target_outcomes(conns.text, "userdb", "evt-nm")["contacts"]
    assert outcome.outcome == "not_mapped" and outcome.record_id is not None
    assert conns.text.exists(keys.tombstone("userdb", "u-none"))


def test_assert_retry_after_failed_cleanup_still_knows_the_record_as_its_own(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    """When deleting the created record fails, the retry's upsert matches it: still not_mapped."""
    settings = _settings(sandbox, redis_server, {"object": "contacts", "resolve": ["assert:ext"]})
    sandbox.state.set_faults(script=[{"status": 503, "only": "DELETE"}])
    _send(settings, conns, "evt-re", "u-re")
    drain(settings, conns)
    calls = [(r["method"], r["status"]) for r in sandbox.state.requests()]
    assert calls == [("PUT", 201), ("DELETE", 503), ("PUT", 200), ("DELETE", 200)]
    assert _outcomes(conns, "evt-re", "contacts") == ["not_mapped"]
    assert sandbox.state.records["contacts"] == {}


def test_assert_resolver_is_skipped_in_dry_run(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    """dry_run never calls the upsert: it is not read-only."""
    sources = default_sources()
    sources["userdb"]["targets"] = [{"object": "contacts", "resolve": ["assert:ext"]}]
    env = {"REDIS_URL": redis_server.url}
    settings = make_settings(sandbox.url, sources, env=env, zeeg={"dry_run": True})
    _send(settings, conns, "evt-dry", "u-dry")
    drain(settings, conns)
    assert sandbox.state.requests() == []
    assert _outcomes(conns, "evt-dry", "contacts") == ["not_mapped"]


def test_late_link_erases_only_its_record_without_asking_other_resolvers(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    """The late-link erasure deletes the one linked record; an assert: chain is not consulted."""
    settings = _settings(sandbox, redis_server, {"object": "contacts", "resolve": ["assert:ext"]})
    conns.text.set(keys.tombstone("userdb", "u-ll"), repr(time.time()))
    (rid,) = sandbox.state.seed("contacts", [{"attributes": {"ext": "u-ll"}}])
    (other,) = sandbox.state.seed("contacts", [{"attributes": {"ext": "u-ll"}}])
    rows = read_rows(["source,object,external_id,record_id\n", f"userdb,contacts,u-ll,{rid}\n"])
    link_rows(conns.text, erasure_queue(conns.raw), settings, rows, time.time())
    drain(settings, conns)
    assert [(r["method"], r["path"]) for r in sandbox.state.requests()] == [
        ("DELETE", f"/crm/contacts/{rid}")
    ]
    assert list(sandbox.state.records["contacts"]) == [other]


def _link_after_deletion(
    settings: Settings, conns: Connections, sandbox: Sandbox, external_id: str, deleted_at: float
) -> tuple[str, str]:
    """Tombstone `external_id` at `deleted_at`, then link a fresh record to it: (rid, event id)."""
    conns.text.set(keys.tombstone("userdb", external_id), repr(deleted_at))
    (rid,) = sandbox.state.seed("contacts", [{}])
    rows = read_rows(
        ["source,object,external_id,record_id\n", f"userdb,contacts,{external_id},{rid}\n"]
    )
    (event_id,) = link_rows(
        conns.text, erasure_queue(conns.raw), settings, rows, time.time()
    ).erasures
    return rid, event_id


def test_late_link_spares_a_record_relinked_after_the_deletion_before_its_job_ran(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """If the link is re-dated after the deletion before the job runs, the job finds it stale."""
    deleted_at = time.time()
    rid, event_id = _link_after_deletion(settings, conns, sandbox, "u-rd", deleted_at)
    mappings.put(conns.text, Mapping("userdb", "contacts", "u-rd", rid, deleted_at + 60))
    drain(settings, conns)
    assert _outcomes(conns, event_id, "contacts") == ["stale"]
    assert rid in sandbox.state.records["contacts"]


def test_late_link_of_an_object_the_source_does_not_target_erases_nothing(
    settings: Settings, conns: Connections
) -> None:
    """A deletion of userdb never touches deals, so neither does a late link to deals."""
    conns.text.set(keys.tombstone("userdb", "u-other"), repr(time.time()))
    rid = "3f2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
    rows = read_rows(["source,object,external_id,record_id\n", f"userdb,deals,u-other,{rid}\n"])
    report = link_rows(conns.text, erasure_queue(conns.raw), settings, rows, time.time())
    assert (report.linked, report.erasures) == (1, [])
    assert len(erasure_queue(conns.raw)) == 0


def test_reimporting_a_late_link_already_erased_drops_the_link_without_a_second_delete(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """The same file imported again after its late link ran: no DELETE, and no link left."""
    conns.text.set(keys.tombstone("userdb", "u-again"), repr(time.time()))
    (rid,) = sandbox.state.seed("contacts", [{}])
    csv = ["source,object,external_id,record_id\n", f"userdb,contacts,u-again,{rid}\n"]
    link_rows(conns.text, erasure_queue(conns.raw), settings, read_rows(csv), time.time())
    drain(settings, conns)
    link_rows(conns.text, erasure_queue(conns.raw), settings, read_rows(csv), time.time())
    drain(settings, conns)
    assert [(r["path"], r["status"]) for r in deletes(sandbox)] == [(f"/crm/contacts/{rid}", 200)]
    assert mappings.get(conns.text, "userdb", "contacts", "u-again") == []


def test_late_link_unlinked_before_its_job_ran_deletes_nothing(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """An operator undoing a bad import before the erasure runs: not_mapped, record kept."""
    deleted_at = time.time() - 60
    rid, event_id = _link_after_deletion(settings, conns, sandbox, "u-undo", deleted_at)
    mappings.unlink(conns.text, "userdb", "contacts", "u-undo", rid)
    drain(settings, conns)
    assert [(r["path"], r["status"]) for r in deletes(sandbox)] == []
    assert rid in sandbox.state.records["contacts"]
    assert _outcomes(conns, event_id, "contacts") == ["not_mapped"]
    assert conns.text.get(keys.tombstone("userdb", "u-undo")) == repr(deleted_at)


def test_assert_resolver_spares_a_match_created_after_the_event(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    """assert:, 200 branch: a matched record whose createdAt is after the event is stale."""
    settings = _settings(sandbox, redis_server, {"object": "contacts", "resolve": ["assert:ext"]})
    (rid,) = sandbox.state.seed("contacts", [{"attributes": {"ext": "u-later"}}])
    sandbox.state.records["contacts"][rid]["createdAt"] = "2999-01-01T00:00:00Z"
    _send(settings, conns, "evt-later", "u-later")
    drain(settings, conns)
    assert [(r["method"], r["status"]) for r in sandbox.state.requests()] == [("PUT", 200)]
    assert rid in sandbox.state.records["contacts"]
    assert _outcomes(conns, "evt-later", "contacts") == ["stale"]
