"""Webhook counters: labelled by configured source only, so a URL cannot shape /metrics."""

from __future__ import annotations

from flask.testing import FlaskClient

from consumer.store import keys
from consumer.store.connection import Connections


def test_unknown_sources_share_one_label_and_cannot_inject_metric_lines(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """POSTs to unconfigured names (one with a quote and a newline) count under "unknown"."""
    for path in ("/webhooks/nope-1", "/webhooks/nope-2", '/webhooks/x"%0Aevil_metric 1'):
        assert sender_client.post(path, json={}).status_code == 404
    fields = conns.text.hkeys(keys.METRICS)
    assert fields == ['zeeg_consumer_webhooks_total{source="unknown",status="404"}']
    assert conns.text.hget(keys.METRICS, fields[0]) == "3"
    assert "evil_metric" not in sender_client.get("/metrics").text


def test_configured_source_is_its_own_label(sender_client: FlaskClient, conns: Connections) -> None:
    """A request to a configured source is counted under that source's name (and its refusal
    by reason: the request carried no signature)."""
    sender_client.post("/webhooks/stripe", json={})
    assert sorted(conns.text.hkeys(keys.METRICS)) == [
        'zeeg_consumer_verification_failures_total{reason="missing",source="stripe"}',
        'zeeg_consumer_webhooks_total{source="stripe",status="401"}',
    ]
