"""How an event's keys are stored: compact encodings in the Redis the project starts."""

from __future__ import annotations

from pathlib import Path

from consumer.devtools import runner
from consumer.devtools.sandbox import Sandbox
from consumer.store import keys
from consumer.store.connection import Connections, connect
from consumer.web import create_app
from tests.helpers import drain, make_settings, mapped, post

# An id as senders send them (a prefixed UUID): RQ's call blob for it is about 85 bytes.
EVENT_ID = "evt_2b1f0c7e9d8a4f6b8c3e5a7d9f1b2c4e"


def _encoding(conns: Connections, key: str) -> str:
    return str(conns.text.object("encoding", key))


def test_embedded_redis_keeps_job_and_event_hashes_compact(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """After a real webhook and its erasure, the RQ job and the event hash are listpacks."""
    sup = runner.Supervisor()
    url = runner.start_redis(sup, tmp_path / "r")
    try:
        conns = connect(url)
        settings = make_settings(sandbox.url, env={"REDIS_URL": url})
        mapped(conns, sandbox, "u-1")
        post(create_app(settings, redis=conns).test_client(), settings, EVENT_ID, "u-1")
        job = f"rq:job:{conns.text.hget(keys.event('userdb', EVENT_ID), 'job_id')}"
        queued = _encoding(conns, job)
        drain(settings, conns)
        done = [_encoding(conns, k) for k in (job, keys.event("userdb", EVENT_ID))]
    finally:
        sup.shutdown()
    assert queued == "listpack"
    assert done == ["listpack", "listpack"]


def test_a_completed_event_keeps_no_dedupe_key_no_marker_and_a_folded_trail(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Issue 12's cuts, by key: the event hash dedupes (no zc:dedupe), the audit entry stands
    for the erased marker, and the trail is one string; hash and trail under 850 bytes of
    MEMORY USAGE (816 with this id; 0.3.0 about 1,120: a 600-byte quicklist trail)."""
    sup = runner.Supervisor()
    url = runner.start_redis(sup, tmp_path / "r")
    try:
        conns = connect(url)
        settings = make_settings(sandbox.url, env={"REDIS_URL": url})
        rid = mapped(conns, sandbox, "u-1")
        post(create_app(settings, redis=conns).test_client(), settings, EVENT_ID, "u-1")
        drain(settings, conns)
        found = {
            k for k in conns.text.scan_iter() if EVENT_ID in k or rid in k or k.endswith(":u-1")
        }
        trail = keys.trail("userdb", EVENT_ID)
        event = keys.event("userdb", EVENT_ID)
        kind = conns.text.type(trail)
        size = sum(int(conns.text.memory_usage(k, samples=0) or 0) for k in (event, trail))
    finally:
        sup.shutdown()
    assert found == {
        event,
        trail,
        keys.event_index("userdb", "u-1"),
        keys.audit_by_external("userdb", "u-1"),
        keys.audit_by_record("contacts", rid),
    }
    assert kind == "string"
    assert size < 850
