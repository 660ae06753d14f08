"""store.metrics: how counters and histogram buckets are kept as hash fields and read back."""

from __future__ import annotations

import math

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from consumer.store import keys, metrics


def recorded(*writes: tuple[str, float, dict[str, str]]) -> dict[str, str]:
    """The hash fields observe() would write, summed as Redis would (nothing is sent)."""
    pipe = redis.Redis().pipeline()  # a pipeline never executed only records
    for name, value, labels in writes:
        metrics.observe(pipe, name, value, **labels)
    fields: dict[str, float] = {}
    for args, _options in pipe.command_stack:
        assert args[1] == keys.METRICS
        fields[args[2]] = fields.get(args[2], 0.0) + float(args[3])
    return {k: repr(v) for k, v in fields.items()}


def text(data: dict[str, str]) -> str:
    """The exposition of families(data), as the collector renders it."""

    class Only:
        def collect(self):  # type: ignore[no-untyped-def]
            return metrics.families(data)

    registry = CollectorRegistry()
    registry.register(Only())
    return generate_latest(registry).decode()


def samples(data: dict[str, str], name: str) -> dict[str, float]:
    """The samples of one family by their le label (or sample name)."""
    for family in text_string_to_metric_families(text(data)):
        if family.name == name:
            return {s.labels.get("le", s.name): s.value for s in family.samples}
    raise AssertionError(f"{name} not exposed")


def test_an_observation_lands_in_the_smallest_bucket_that_holds_it() -> None:
    """0.003 s goes to le=0.005; past the last bound it goes to +Inf."""
    assert metrics.bucket(metrics.INTAKE_SECONDS, 0.003) == 0.005
    assert metrics.bucket(metrics.INTAKE_SECONDS, 0.005) == 0.005
    assert metrics.bucket(metrics.INTAKE_SECONDS, 99.0) == math.inf


def test_buckets_are_cumulative_with_count_and_sum_when_read() -> None:
    """Per-bucket counts in Redis become Prometheus's cumulative buckets, count and sum."""
    source = {"source": "userdb"}
    data = recorded(
        (metrics.INTAKE_SECONDS, 0.003, source),
        (metrics.INTAKE_SECONDS, 0.04, source),
        (metrics.INTAKE_SECONDS, 7.0, source),
    )
    got = samples(data, metrics.INTAKE_SECONDS)
    assert (got["0.0025"], got["0.005"], got["0.05"], got["2.5"], got["+Inf"]) == (0, 1, 2, 2, 3)
    assert got[metrics.INTAKE_SECONDS + "_count"] == 3
    assert math.isclose(got[metrics.INTAKE_SECONDS + "_sum"], 7.043)


def test_a_bucket_bound_no_longer_declared_counts_in_the_next_one_up() -> None:
    """Totals survive a change of buckets: a stored le=0.003 is read into le=0.005."""
    data = {f'{metrics.INTAKE_SECONDS}{{le="0.003",source="a"}}': "4"}
    got = samples(data, metrics.INTAKE_SECONDS)
    assert (got["0.0025"], got["0.005"], got["+Inf"]) == (0, 4, 4)


def test_counters_keep_their_fields_and_undeclared_names_are_not_exposed() -> None:
    """The field format of 0.x deployments reads back; a stray field never reaches the text."""
    data = {
        'zeeg_consumer_outcomes_total{outcome="deleted"}': "7",
        'not_ours_total{x="1"}': "3",
        "garbage": "1",
    }
    exposed = text(data)
    assert 'zeeg_consumer_outcomes_total{outcome="deleted"} 7.0' in exposed
    assert "not_ours" not in exposed and "garbage" not in exposed


def test_label_values_cannot_break_a_field() -> None:
    """Quotes, braces, commas and newlines in a label value are replaced when stored."""
    pipe = redis.Redis().pipeline()
    metrics.incr(pipe, metrics.ALERTS, kind='a",b}\nc', result="sent")
    (args, _options), *_ = pipe.command_stack
    assert args[2] == 'zeeg_consumer_alerts_total{kind="a__b__c",result="sent"}'


def test_status_classes() -> None:
    """Zeeg answers are grouped 2xx to 5xx; no answer at all is network."""
    assert [metrics.status_class(s) for s in (204, 302, 404, 503, None)] == [
        "2xx",
        "3xx",
        "4xx",
        "5xx",
        "network",
    ]
