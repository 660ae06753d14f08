"""Build a deletion event in a source's own shape, by writing values at its field paths."""

from __future__ import annotations

from typing import Any

from consumer.settings import SourceConfig


def put(body: dict[str, Any], path: str, value: Any) -> None:
    """Set value at a dotted path (header: paths are ignored: they travel as headers)."""
    if path.startswith("header:"):
        return
    *parents, last = path.split(".")
    node = body
    for step in parents:
        node = node.setdefault(step, {})
    node[last] = value


def build_event(
    source: SourceConfig, event_id: str, external_id: str, now: int, record_id: str | None = None
) -> dict[str, Any]:
    """A body that parses as a deletion of external_id for source."""
    body: dict[str, Any] = {}
    put(body, source.event_id, event_id)
    put(body, source.event_type, source.event_types[0])
    put(body, source.external_id, external_id)
    if source.occurred_at:
        put(body, source.occurred_at, now)
    if record_id:
        for target in source.targets:
            for step in target.resolve:
                if step.startswith("payload:"):
                    put(body, step[len("payload:") :], record_id)
    return body
