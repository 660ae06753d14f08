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


def test_a_completed_event_keeps_no_dedupe_key_no_marker_and_its_trail_in_its_hash(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Issue 12's cuts, by key: the event hash dedupes (no zc:dedupe), the audit entry stands
    for the erased marker, the folded trail is a field of the hash, which stays a listpack:
    under 800 bytes of MEMORY USAGE (0.3.0: about 1,120 in hash and quicklist trail)."""
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
        event = keys.event("userdb", EVENT_ID)
        folded = conns.text.hexists(event, "trail")
        encoding = _encoding(conns, event)
        size = int(conns.text.memory_usage(event, samples=0) or 0)
    finally:
        sup.shutdown()
    assert found == {
        event,
        keys.event_index("userdb", "u-1"),
        keys.audit_by_external("userdb", "u-1"),
        keys.audit_by_record("contacts", rid),
    }
    assert folded and encoding == "listpack"
    assert size < 800
