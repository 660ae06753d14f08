"""Field paths into a webhook: a dotted path into the JSON body, or header:<Name>."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_MISSING = object()


def extract(path: str, body: Any, headers: Mapping[str, str]) -> Any:
    """Return the value at path, or None when any step is missing."""
    if path.startswith("header:"):
        # No fallback between spellings here: headers are those sources.verify returned, in
        # which a signed header (webhook-id or svix-id) holds the verified value under both
        # names, and an unsigned look-alike has been overwritten.
        return headers.get(path[len("header:") :].lower())
    node = body
    for step in path.split("."):
        if isinstance(node, dict):
            node = node.get(step, _MISSING)
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
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
