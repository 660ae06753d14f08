"""Build a deletion event in a source's own shape, by writing values at its field paths."""

from __future__ import annotations

import itertools
from typing import Any

from consumer.settings import SourceConfig
from consumer.settings.presets import BATCH_ARRAY, DERIVED_ID


def put(body: dict[str, Any], path: str, value: Any) -> None:
    """Set value at a dotted path; a numeric step makes a list (header: paths are skipped)."""
    if path.startswith("header:") or path == DERIVED_ID:
        return
    steps = path.split(".")
    node: Any = body
    for step, following in itertools.pairwise(steps):
        child: Any = [] if following.isdigit() else {}
        node = _step(node, step, child)
    if isinstance(node, list):
        node.append(value)
    else:
        node[steps[-1]] = value


def _step(node: Any, step: str, child: Any) -> Any:
    if isinstance(node, list):
        # Only index 0 is ever written: test events carry one item per list.
        if not node:
            node.append(child)
        return node[0]
    result = node.setdefault(step, child)
    return result


def build_event(
    source: SourceConfig, event_id: str, external_id: str, now: int, record_id: str | None = None
) -> Any:
    """A body that parses as a deletion of external_id for source (wrapped if it batches)."""
    body: dict[str, Any] = {}
    put(body, source.event_id, event_id)
    put(body, source.event_type, source.event_types[0])
    prefix = source.options.get("external_id_prefix") or ""
    put(body, source.external_id, f"{prefix}{external_id}")
    if source.occurred_at:
        put(body, source.occurred_at, now)
    if record_id:
        for target in source.targets:
            for step in target.resolve:
                if step.startswith("payload:"):
                    put(body, step[len("payload:") :], record_id)
    batch = source.options.get("batch")
    if batch == BATCH_ARRAY:
        return [body]
    if batch:
        envelope: dict[str, Any] = {}
        put(envelope, batch, [body])
        return envelope
    return body
