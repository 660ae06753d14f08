"""Counters shared by every process, kept in one Redis hash and rendered for Prometheus."""

from __future__ import annotations

import redis
from redis.client import Pipeline

from consumer.store import keys

HELP = {
    "zeeg_consumer_webhooks_total": "Webhook requests by source and HTTP status.",
    "zeeg_consumer_outcomes_total": "Target outcomes of erasure jobs.",
    "zeeg_consumer_zeeg_requests_total": "Calls to the Zeeg API by HTTP status.",
}


def incr(r: redis.Redis | Pipeline, name: str, amount: int = 1, **labels: str) -> None:
    """Add to a counter; labels are rendered in sorted order."""
    label = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    r.hincrby(keys.METRICS, f"{name}{{{label}}}", amount)


def render(r: redis.Redis) -> str:
    """All counters in the Prometheus text format."""
    data: dict[str, str] = r.hgetall(keys.METRICS)  # type: ignore[assignment]
    lines = []
    for name, text in HELP.items():
        lines += [f"# HELP {name} {text}", f"# TYPE {name} counter"]
        lines += [f"{k} {v}" for k, v in sorted(data.items()) if k.split("{")[0] == name]
    return "\n".join(lines) + "\n"
