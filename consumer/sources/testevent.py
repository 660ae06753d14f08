"""Build a deletion event in a source's own shape, by writing values at its field paths."""

from __future__ import annotations

import itertools
from typing import Any

from consumer.paths import Step, compile_path
from consumer.settings import SourceConfig
from consumer.settings.presets import BATCH_ARRAY, DERIVED_ID


def put(body: dict[str, Any], path: str, value: Any) -> None:
    """Set value at a dotted path; a numeric step or a selector makes a list (header: skipped)."""
    if path.startswith("header:") or path == DERIVED_ID:
        return
    steps = compile_path(path)
    node: Any = body
    for step, following in itertools.pairwise(steps):
        child: Any = [] if following.key.isdigit() else {}
        node = _step(node, step, child)
    last = steps[-1]
    if isinstance(node, list):
        node.append(value)
    else:
        node[last.key] = value


def _step(node: Any, step: Step, child: Any) -> Any:
    if isinstance(node, list):
        # Only index 0 is ever written: test events carry one item per list.
        if not node:
            node.append(child)
        return node[0]
    if not step.field:
        return node.setdefault(step.key, child)
    # key[field=value]: a list of one entry, holding the field the selector looks for.
    entries = node.setdefault(step.key, [])
    if not entries:
        entries.append({step.field: step.value})
    entry = entries[0]
    return entry


def build_event(
    source: SourceConfig, event_id: str, external_id: str, now: int, record_id: str | None = None
) -> Any:
    """A body that parses as a deletion of external_id for source (wrapped if it batches)."""
    body: dict[str, Any] = {}
    put(body, source.event_id, event_id)
    put(body, source.event_type, source.event_types[0])
    prefix = source.external_id_prefix(source.event_types[0])
    put(body, source.external_id_path(source.event_types[0]), f"{prefix}{external_id}")
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
