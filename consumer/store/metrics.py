"""Counters and histograms shared by every process, kept in one Redis hash (zc:metrics).

Any web or worker process on any machine adds to the same hash, so every replica serves the
same cluster-wide totals. A counter is the field `name{k="v",...}` (labels sorted). A
histogram observation adds 1 to the field of its bucket, `name{...,le="B"}` with B the
smallest bound that holds the value (per-bucket counts, made cumulative when read), and
the value to `name_sum{...}`: one HINCRBY and one HINCRBYFLOAT, queued on whatever pipeline
the caller is writing anyway. Only declared names are exposed (consumer.ops.scrape).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import redis
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from redis.client import Pipeline

from consumer.store import keys

log = logging.getLogger(__name__)
Writer = redis.Redis | Pipeline


@dataclass(frozen=True)
class Declared:
    """A metric kept in the hash: its name, help text, label names, and buckets if a histogram."""

    name: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


WEBHOOKS = "zeeg_consumer_webhooks_total"
VERIFICATION_FAILURES = "zeeg_consumer_verification_failures_total"
DUPLICATES = "zeeg_consumer_duplicates_total"
IGNORED = "zeeg_consumer_ignored_total"
RETRIES = "zeeg_consumer_job_retries_total"
OUTCOMES = "zeeg_consumer_outcomes_total"
ZEEG_REQUESTS = "zeeg_consumer_zeeg_requests_total"
VERIFY_REQUESTS = "zeeg_consumer_zeeg_verify_requests_total"
ZEEG_ANSWERS = "zeeg_consumer_zeeg_answers_total"
ALERTS = "zeeg_consumer_alerts_total"
ORPHANS_REQUEUED = "zeeg_consumer_orphans_requeued_total"
EVENT_SECONDS = "zeeg_consumer_event_latency_seconds"
ZEEG_SECONDS = "zeeg_consumer_zeeg_request_seconds"
INTAKE_SECONDS = "zeeg_consumer_intake_seconds"

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_CALL = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_HOURS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0, 3 * 86400.0)

COUNTERS = {
    c.name: c
    for c in (
        Declared(WEBHOOKS, "Webhook requests by source and HTTP status.", ("source", "status")),
        Declared(
            VERIFICATION_FAILURES,
            "Webhooks refused for their signature, by reason "
            "(missing, bad_signature, stale_timestamp).",
            ("source", "reason"),
        ),
        Declared(DUPLICATES, "Events delivered again and acknowledged as duplicates.", ("source",)),
        Declared(IGNORED, "Verified webhooks that are not deletions (acknowledged).", ("source",)),
        Declared(RETRIES, "Erasure jobs rescheduled, by why.", ("why",)),
        Declared(OUTCOMES, "Target outcomes of erasure jobs.", ("outcome",)),
        Declared(ZEEG_REQUESTS, "DELETE calls to the Zeeg API by HTTP status.", ("status",)),
        Declared(
            VERIFY_REQUESTS,
            "GETs verifying a deletion, by HTTP status (404: the record is gone).",
            ("status",),
        ),
        Declared(ZEEG_ANSWERS, "Zeeg API answers by status class, or network.", ("class",)),
        Declared(ALERTS, "Alerts sent, by kind and result.", ("kind", "result")),
        Declared(ORPHANS_REQUEUED, "Orphaned jobs re-enqueued by the sweep, by job.", ("job",)),
    )
}
HISTOGRAMS = {
    h.name: h
    for h in (
        Declared(
            EVENT_SECONDS,
            "Seconds from a webhook's receipt to its event's end, done or failed.",
            ("outcome",),
            _HOURS,
        ),
        Declared(ZEEG_SECONDS, "Seconds a call to the Zeeg API took.", ("method",), _CALL),
        Declared(
            INTAKE_SECONDS,
            "Seconds from a webhook's arrival to its intake script call.",
            ("source",),
            _FAST,
        ),
    )
}

# Label values come from code or configured names; these are replaced all the same, so a
# stored field always parses back.
_UNSAFE = re.compile(r'["\\\n{},]')
_FIELD = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')


def _field(name: str, labels: Mapping[str, str]) -> str:
    label = ",".join(f'{k}="{_UNSAFE.sub("_", str(v))}"' for k, v in sorted(labels.items()))
    return f"{name}{{{label}}}"


def _le(bound: float) -> str:
    """A bucket bound as Prometheus writes it: 0.25, 1.0, +Inf."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def incr(r: Writer, name: str, amount: int = 1, **labels: str) -> None:
    """Add to a counter; labels are rendered in sorted order."""
    r.hincrby(keys.METRICS, _field(name, labels), amount)


def bucket(name: str, value: float) -> float:
    """The upper bound of the histogram's bucket that holds value (inf past the last)."""
    return _next_bound(HISTOGRAMS[name], value)


def observe(r: Writer, name: str, value: float, **labels: str) -> None:
    """Count one observation of a histogram: its bucket, and its value in the sum."""
    le = _le(bucket(name, value))
    r.hincrby(keys.METRICS, _field(name, {**labels, "le": le}), 1)
    r.hincrbyfloat(keys.METRICS, _field(f"{name}_sum", labels), value)


def ended(pipe: Writer, outcome: str, now: float, received_at: float | None) -> None:
    """An event's webhook-to-end latency, observed in its done or failed transition."""
    if received_at:  # 0 or None: not known (an event stored before received_at was kept)
        observe(pipe, EVENT_SECONDS, max(0.0, now - received_at), outcome=outcome)


def status_class(status: int | None) -> str:
    """2xx, 3xx, 4xx, 5xx, or network for a call that got no answer."""
    return "network" if status is None else f"{status // 100}xx"


def zeeg_call(r: redis.Redis, method: str, status: int | None, seconds: float) -> None:
    """Record one Zeeg call (its latency and status class); a Redis error only logs."""
    try:
        with r.pipeline(transaction=False) as pipe:
            observe(pipe, ZEEG_SECONDS, seconds, method=method)
            incr(pipe, ZEEG_ANSWERS, 1, **{"class": status_class(status)})
            pipe.execute()
    except redis.exceptions.RedisError as e:  # a metrics miss must not fail the erasure
        log.warning("zeeg call not counted: %s", type(e).__name__)


def _parse(field: str) -> tuple[str, dict[str, str]] | None:
    found = _FIELD.match(field)
    if found is None:
        return None
    return found.group(1), dict(_LABEL.findall(found.group(2)))


def read(r: redis.Redis) -> dict[str, str]:
    """The whole hash, one HGETALL."""
    data: dict[str, str] = r.hgetall(keys.METRICS)  # type: ignore[assignment]
    return data


def families(data: Mapping[str, str]) -> Iterator[Metric]:
    """Every declared counter and histogram, from the hash as read()."""
    parsed = [(p, v) for f, v in sorted(data.items()) if (p := _parse(f)) is not None]
    for c in COUNTERS.values():
        family = CounterMetricFamily(c.name, c.help, labels=c.labels)
        for (name, labels), value in parsed:
            if name == c.name:
                family.add_metric([labels.get(k, "") for k in c.labels], float(value))
        yield family
    for h in HISTOGRAMS.values():
        yield _histogram(h, parsed)


def _histogram(h: Declared, parsed: list[tuple[tuple[str, dict[str, str]], str]]) -> Metric:
    """One histogram family: per label set, the stored per-bucket counts made cumulative."""
    counts: dict[tuple[str, ...], dict[float, float]] = {}
    sums: dict[tuple[str, ...], float] = {}
    for (name, labels), value in parsed:
        key = tuple(labels.get(k, "") for k in h.labels)
        if name == f"{h.name}_sum":
            sums[key] = float(value)
        elif name == h.name and "le" in labels:
            per = counts.setdefault(key, {})
            # A bound no longer declared (buckets changed) counts in the next one up.
            b = _next_bound(h, float(labels["le"]))
            per[b] = per.get(b, 0.0) + float(value)
    family = HistogramMetricFamily(h.name, h.help, labels=h.labels)
    for key, per in sorted(counts.items()):
        running, buckets = 0.0, []
        for b in (*h.buckets, math.inf):
            running += per.get(b, 0.0)
            buckets.append((_le(b), running))
        family.add_metric(list(key), buckets, sums.get(key, 0.0))
    return family


def _next_bound(h: Declared, value: float) -> float:
    return next((b for b in h.buckets if value <= b), math.inf)
