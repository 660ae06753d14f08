"""Field paths into a webhook: a dotted path into the JSON body, or header:<Name>.

The dotted-path syntax, [field=value] selectors included, is defined in consumer.paths.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consumer.paths import Step, compile_path

_MISSING = object()


def _matches(entry: Any, step: Step) -> bool:
    if not isinstance(entry, dict) or step.field is None:
        return False
    found = entry.get(step.field)
    if isinstance(found, str):
        return found == step.value
    return isinstance(found, int) and not isinstance(found, bool) and str(found) == step.value


def _walk(node: Any, step: Step) -> Any:
    """The node one step further, or _MISSING."""
    if isinstance(node, dict):
        node = node.get(step.key, _MISSING)
    elif isinstance(node, list) and step.key.isdigit() and int(step.key) < len(node):
        node = node[int(step.key)]
    else:
        return _MISSING
    if step.field is None or node is _MISSING:
        return node
    if not isinstance(node, list):
        return _MISSING
    return next((entry for entry in node if _matches(entry, step)), _MISSING)


def extract(path: str, body: Any, headers: Mapping[str, str]) -> Any:
    """Return the value at path, or None when any step is missing."""
    if path.startswith("header:"):
        # No fallback between spellings here: headers are those sources.verify returned, in
        # which a signed header (webhook-id or svix-id) holds the verified value under both
        # names, and an unsigned look-alike has been overwritten.
        return headers.get(path[len("header:") :].lower())
    node = body
    for step in compile_path(path):
        node = _walk(node, step)
        if node is _MISSING:
            return None
    return node


def parse_time(value: Any) -> float | None:
    """An ISO 8601 string or unix seconds/milliseconds as epoch seconds; None if unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
        value = float(value)
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            return None
        if not math.isfinite(seconds):
            return None
        # Past 1e11 seconds is the year 5138: such a number is milliseconds.
        return seconds / 1000.0 if abs(seconds) > 1e11 else seconds
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        return parsed.timestamp()
    return None
