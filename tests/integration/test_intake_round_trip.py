"""Intake in one round trip: the dedupe check and every write of an accepted event (its
record, trail, pending entry, event log entry and RQ job) go to Redis as one script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from redis.connection import Connection
from rq import Queue as RQQueue
from rq.job import Job
from rq.serializers import JSONSerializer

from consumer import intake
from consumer.models import ParsedEvent
from consumer.queue import JOB_FUNC, erasure_queue
from consumer.settings import Settings
from consumer.store import keys
from consumer.store.connection import Connections, connect
from consumer.web import create_app
from tests.helpers import RedisServer, post, signed, userdb_body, webhook


def _event(event_id: str) -> ParsedEvent:
    return ParsedEvent("userdb", event_id, "contact.deleted", "u-1", None, ("contacts",))


def _accept(conns: Connections, event_id: str) -> intake.IntakeResult:
    return intake.accept(
        conns.text,
        erasure_queue(conns.raw),
        _event(event_id),
        now=1_700_000_000.0,
        dedupe_ttl_days=1,
        retention_days=1,
        job_timeout=60,
    )


def _count_sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    original = Connection.send_packed_command

    def counting(self: Connection, command: Any, check_health: bool = True) -> None:
        sent.append(1)
        original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    return sent


def test_an_accepted_event_and_a_duplicate_each_cost_one_round_trip(
    conns: Connections, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One send to Redis per accept, new or duplicate (after the script is cached)."""
    _accept(conns, "evt-warm")  # loads the script and RQ's server version
    sent = _count_sends(monkeypatch)
    first = _accept(conns, "evt-1")
    assert len(sent) == 1
    again = _accept(conns, "evt-1")
    assert len(sent) == 2
    assert (first.status, again.status, again.job_id) == ("accepted", "duplicate", first.job_id)


def test_the_job_written_by_the_script_is_an_rq_job_rq_reads(conns: Connections) -> None:
    """RQ's own code built it: Job.fetch, the queue and rq:queues see it as enqueue would."""
    result = _accept(conns, "evt-rq")
    job = Job.fetch(result.job_id, connection=conns.raw, serializer=JSONSerializer)
    assert (job.func_name, job.args, job.get_status()) == (JOB_FUNC, ["userdb", "evt-rq"], "queued")
    assert erasure_queue(conns.raw).get_job_ids() == [result.job_id]
    assert [q.name for q in RQQueue.all(connection=conns.raw)] == [keys.QUEUE]
    assert conns.text.ttl(keys.dedupe("userdb", "evt-rq")) == 86400


def test_a_webhook_accepted_or_duplicate_costs_one_round_trip_metrics_included(
    client: FlaskClient, settings: Settings, conns: Connections, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the app, the intake script also writes the answer's counter and latency."""
    post(client, settings, "e-warm", "u-0")  # loads the script and RQ's server version
    sent = _count_sends(monkeypatch)
    body = userdb_body("e-1", "u-1")
    assert webhook(client, "userdb", body, signed(settings, "userdb", body)).status_code == 202
    assert len(sent) == 1
    assert webhook(client, "userdb", body, signed(settings, "userdb", body)).status_code == 200
    assert len(sent) == 2
    counted = conns.text.hgetall(keys.METRICS)
    assert counted['zeeg_consumer_webhooks_total{source="userdb",status="202"}'] == "2"
    assert counted['zeeg_consumer_webhooks_total{source="userdb",status="200"}'] == "1"
    assert counted['zeeg_consumer_duplicates_total{source="userdb"}'] == "1"
    observed = [k for k in counted if k.startswith("zeeg_consumer_intake_seconds{")]
    assert sum(int(counted[k]) for k in observed) == 3


def test_a_duplicate_on_a_full_redis_is_still_acknowledged(
    settings: Settings, tmp_path: Path
) -> None:
    """The script's metrics writes are refused by a full Redis, the duplicate's 200 is not."""
    server = RedisServer(tmp_path / "full").start()
    full = connect(server.url)
    try:
        client = create_app(settings, redis=full).test_client()
        body = userdb_body("evt-1", "u-1")
        assert webhook(client, "userdb", body, signed(settings, "userdb", body)).status_code == 202
        before = full.text.hgetall(keys.METRICS)
        full.text.config_set("maxmemory-policy", "noeviction")
        full.text.set("ballast", "x" * 2_000_000)
        full.text.config_set("maxmemory", "1mb")
        answer = webhook(client, "userdb", body, signed(settings, "userdb", body))
        assert (answer.status_code, answer.json["status"]) == (200, "duplicate")
        assert full.text.hgetall(keys.METRICS) == before  # not counted, and not a 503
    finally:
        server.stop()
