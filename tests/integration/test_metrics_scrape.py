"""/metrics as Prometheus reads it: counters, gauges and histograms after real webhooks and a
real drain, parsed with prometheus_client's own parser."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from consumer import sources
from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store import pause
from consumer.store.connection import Connections
from tests.helpers import drain, mapped, post, signed, userdb_body, webhook

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: FlaskClient) -> Samples:
    """Every sample of /metrics by (name, sorted labels), as Prometheus would parse them."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 if absent, as Prometheus treats a series not yet seen)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_and_histograms_after_webhooks_and_a_drain(
    client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Accepted, duplicate, ignored and refused webhooks, then their erasure, as /metrics says."""
    mapped(conns, sandbox, "u-1")
    post(client, settings, "e-1", "u-1")
    post(client, settings, "e-2", "u-2")
    again = userdb_body("e-1", "u-1")
    assert webhook(client, "userdb", again, signed(settings, "userdb", again)).status_code == 200
    other = json.dumps({"id": "e-3", "type": "contact.created", "data": {}}).encode()
    assert webhook(client, "userdb", other, signed(settings, "userdb", other)).status_code == 200
    assert (
        webhook(client, "userdb", again, {"X-Signature": "sha256=" + "0" * 64}).status_code == 401
    )
    drain(settings, conns)
    m = scrape(client)
    assert value(m, "zeeg_consumer_webhooks_total", source="userdb", status="202") == 2
    assert value(m, "zeeg_consumer_webhooks_total", source="userdb", status="200") == 2
    assert value(m, "zeeg_consumer_webhooks_total", source="userdb", status="401") == 1
    assert value(m, "zeeg_consumer_duplicates_total", source="userdb") == 1
    assert value(m, "zeeg_consumer_ignored_total", source="userdb") == 1
    reason = {"source": "userdb", "reason": "bad_signature"}
    assert value(m, "zeeg_consumer_verification_failures_total", **reason) == 1
    assert value(m, "zeeg_consumer_outcomes_total", outcome="deleted") == 1
    assert value(m, "zeeg_consumer_outcomes_total", outcome="not_mapped") == 1
    assert value(m, "zeeg_consumer_zeeg_requests_total", status="200") == 1
    assert value(m, "zeeg_consumer_zeeg_answers_total", **{"class": "2xx"}) == 1
    # Histograms: every observation counted once, buckets cumulative up to +Inf.
    assert value(m, "zeeg_consumer_intake_seconds_count", source="userdb") == 3
    intake_inf = value(m, "zeeg_consumer_intake_seconds_bucket", source="userdb", le="+Inf")
    assert intake_inf == 3
    assert 0 < value(m, "zeeg_consumer_intake_seconds_sum", source="userdb") < 3
    assert value(m, "zeeg_consumer_event_latency_seconds_count", outcome="done") == 2
    assert value(m, "zeeg_consumer_event_latency_seconds_bucket", outcome="done", le="60.0") == 2
    assert value(m, "zeeg_consumer_zeeg_request_seconds_count", method="DELETE") == 1
    assert value(m, "zeeg_consumer_pending_events") == 0
    assert value(m, "zeeg_consumer_jobs", state="queued") == 0


def test_gauges_show_the_backlog_the_pause_and_the_429_hold(
    client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """Queued and pending events, the oldest one's age, the pause's reason and the hold."""
    post(client, settings, "e-1", "u-1")
    post(client, settings, "e-2", "u-2")
    pause.pause(conns.text, "maintenance window", time.time(), by="ops")
    pause.hold_until(conns.text, time.time() + 30, time.time())
    m = scrape(client)
    assert value(m, "zeeg_consumer_jobs", state="queued") == 2
    assert value(m, "zeeg_consumer_pending_events") == 2
    assert value(m, "zeeg_consumer_sla_at_risk_events") == 0
    assert 0 <= value(m, "zeeg_consumer_oldest_pending_age_seconds") < 60
    assert value(m, "zeeg_consumer_paused", reason="maintenance window", by="ops") == 1
    assert 25 < value(m, "zeeg_consumer_rate_limit_hold_seconds") <= 30
    assert value(m, "zeeg_consumer_rate_limit_per_second") == settings.zeeg.rate_limit_per_second
    assert value(m, "zeeg_consumer_workers") == 0


def test_an_event_past_the_sla_is_at_risk(
    client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """An event received longer than sla_hours ago counts at risk; its age is the oldest."""
    post(client, settings, "e-1", "u-1")
    old = time.time() - settings.delivery.sla_hours * 3600 - 60
    conns.text.zadd("zc:pending", {"userdb:e-1": old})
    m = scrape(client)
    assert value(m, "zeeg_consumer_sla_at_risk_events") == 1
    assert (
        value(m, "zeeg_consumer_oldest_pending_age_seconds") >= settings.delivery.sla_hours * 3600
    )


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (lambda h: {k: v for k, v in h.items() if k != "webhook-signature"}, "missing"),
        (lambda h: {**h, "webhook-signature": "v1,AAAA"}, "bad_signature"),
        (None, "stale_timestamp"),
    ],
)
def test_verification_failures_are_counted_by_reason(
    client: FlaskClient, settings: Settings, headers: object, reason: str
) -> None:
    """A missing signature, a wrong one and a stale timestamp each have their own label."""
    body = json.dumps({"type": "user.deleted", "data": {"id": "u-1"}}).encode()
    src = settings.sources["std"]
    stamp = int(time.time()) - (src.tolerance_seconds + 60 if headers is None else 0)
    signed_headers = sources.sign_headers(src, body, "msg_1", stamp)
    sent = signed_headers if headers is None else headers(signed_headers)  # type: ignore[operator]
    assert webhook(client, "std", body, sent).status_code == 401
    m = scrape(client)
    assert value(m, "zeeg_consumer_verification_failures_total", source="std", reason=reason) == 1


def test_transient_failures_count_retries_by_why(
    client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """A 503 then a 200: one retry labelled zeeg_5xx, Zeeg answers 5xx and 2xx."""
    mapped(conns, sandbox, "u-1")
    sandbox.state.set_faults(script=[{"status": 503}])
    post(client, settings, "e-1", "u-1")
    drain(settings, conns)
    m = scrape(client)
    assert value(m, "zeeg_consumer_job_retries_total", why="zeeg_5xx") == 1
    assert value(m, "zeeg_consumer_zeeg_answers_total", **{"class": "5xx"}) == 1
    assert value(m, "zeeg_consumer_zeeg_answers_total", **{"class": "2xx"}) == 1
    assert value(m, "zeeg_consumer_zeeg_requests_total", status="503") == 1


def test_every_metric_the_example_alert_rules_use_is_served(client: FlaskClient) -> None:
    """A renamed metric would silence an alert: each name in alerts.yml is on /metrics."""
    rules = (Path(__file__).resolve().parents[2] / "deploy/prometheus/alerts.yml").read_text()
    used = set(re.findall(r"\bzeeg_consumer_[a-z0-9_]+", rules))
    served = {f.name for f in text_string_to_metric_families(client.get("/metrics").text)}
    assert used, "no metric found in alerts.yml"
    for name in used:
        assert re.sub(r"_(total|bucket|count|sum)$", "", name) in served, name
