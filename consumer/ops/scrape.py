"""The /metrics scrape: counters and histograms from Redis, gauges computed now.

Every figure comes from Redis, never from the process that answers, so every replica
serves the same values: aggregate them with max, not sum. The text is prometheus_client's
own (generate_latest on a private registry), never written by hand.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from consumer.ops import Ops
from consumer.ops.status import sla_risk
from consumer.queue import job_counts, oldest_queued_at, worker_names
from consumer.store import events, metrics, pause

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _jobs(ops: Ops) -> GaugeMetricFamily:
    """Jobs by state: queued, scheduled (retries and waits), running, failed."""
    jobs = job_counts(ops.queue)
    family = GaugeMetricFamily(
        "zeeg_consumer_jobs",
        "Erasure jobs by state (the status command's figures).",
        labels=["state"],
    )
    for state in ("queued", "scheduled", "running", "failed"):
        family.add_metric([state], getattr(jobs, state))
    return family


def _paused(ops: Ops) -> GaugeMetricFamily:
    """1 with the pause's reason while delivery is paused, else 0 (reason "")."""
    family = GaugeMetricFamily(
        "zeeg_consumer_paused",
        "1 while delivery is paused (by a 401/403 or an operator), with its reason.",
        labels=["reason", "by"],
    )
    state = pause.state(ops.r)
    if state is None:
        family.add_metric(["", ""], 0)
    else:
        family.add_metric([state.reason, state.by], 1)
    return family


def _pending(ops: Ops, now: float) -> Iterator[GaugeMetricFamily]:
    """Events not done, those past the SLA (and half of it), the oldest one's age."""
    sla = sla_risk(ops, now)
    # The oldest event not done 0 hours after its receipt: the oldest pending one.
    oldest = events.at_risk(ops.r, now, 0.0, limit=1)
    queued_at = oldest_queued_at(ops.queue)
    yield _gauge(
        "zeeg_consumer_pending_events",
        "Events accepted and not yet done (queued, waiting, retrying or failed).",
        events.pending_count(ops.r),
    )
    yield _gauge(
        "zeeg_consumer_sla_at_risk_events",
        "Events not done delivery.sla_hours after their receipt.",
        sla["at_risk"],
    )
    yield _gauge(
        "zeeg_consumer_sla_past_half_events",
        "Events not done half of delivery.sla_hours after their receipt (early warning).",
        sla["past_half_sla"],
    )
    yield _gauge(
        "zeeg_consumer_oldest_pending_age_seconds",
        "Age of the oldest event not done (0 when none is pending).",
        max(0.0, now - oldest[0][2]) if oldest else 0.0,
    )
    yield _gauge(
        "zeeg_consumer_oldest_queued_age_seconds",
        "How long the job at the head of the queue has waited (0 when the queue is empty).",
        0.0 if queued_at is None else max(0.0, now - queued_at),
    )


def gauges(ops: Ops) -> Iterator[Metric]:
    """Every gauge, read from Redis now (the figures of the status command)."""
    now = ops.clock()
    yield _jobs(ops)
    yield from _pending(ops, now)
    yield _paused(ops)
    yield _gauge(
        "zeeg_consumer_rate_limit_hold_seconds",
        "Seconds left of the shared hold after a Zeeg 429 (0 when calls may go out).",
        pause.held_for(ops.r, now),
    )
    yield _gauge(
        "zeeg_consumer_workers",
        "Live erasure workers (registered with RQ).",
        len(worker_names(ops.queue)),
    )
    yield _gauge(
        "zeeg_consumer_rate_limit_per_second",
        "Zeeg calls per second the shared token bucket allows (0: no limit).",
        ops.settings.zeeg.rate_limit_per_second,
    )


class Scrape(Collector):
    """The custom collector: the hash's counters and histograms, then the gauges."""

    def __init__(self, ops: Ops) -> None:
        self.ops = ops

    def collect(self) -> Iterator[Metric]:
        """Every metric family, read from Redis at this moment."""
        yield from metrics.families(metrics.read(self.ops.r))
        yield from gauges(self.ops)


def render(ops: Ops) -> bytes:
    """The Prometheus text of one scrape, by prometheus_client on a private registry."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Scrape(ops))
    return generate_latest(registry)
