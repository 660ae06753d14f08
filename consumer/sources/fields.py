"""Field paths into a webhook: a dotted path into the JSON body, or header:<Name>.

The dotted-path syntax, [field=value] selectors included, is defined in consumer.paths.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consumer.paths import Step, compile_path

_MISSING = object()
# The times taken from outside: 2000-01-01 up to (not including) 2100-01-01, UTC.
EARLIEST = 946684800.0
LATEST = 4102444800.0
# What a date can hold (9999-12-31): the range for times Zeeg itself reports.
DATE_LATEST = 253402300800.0
# A unix time as text: ASCII digits only (str.isdigit() is also true for "²" and "①").
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)


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


def parse_time(value: Any, earliest: float = EARLIEST, latest: float = LATEST) -> float | None:
    """An ISO 8601 string or unix s/ms/us as epoch seconds in [earliest, latest), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        seconds = _unix_time(float(text)) if _NUMBER.fullmatch(text) else _iso_time(text)
    elif isinstance(value, int | float):
        seconds = _unix_time(value)
    else:
        return None
    # Outside the range a time is a sender's mistake, and readers could not render it.
    if seconds is None or not earliest <= seconds < latest:
        return None
    return seconds


def _unix_time(value: float) -> float | None:
    """A unix time in seconds, milliseconds or microseconds (by magnitude), as seconds."""
    try:
        number = float(value)
    except OverflowError:
        return None
    if not math.isfinite(number):
        return None
    # The unit by magnitude: 1e11 seconds is the year 5138, so between 1970 and 2100 the
    # three units' ranges are far apart and a time is never read in the wrong one.
    # Nanoseconds are not guessed: past 1e17 a number is microseconds, and out of range.
    for scale in (1.0, 1e3):
        if abs(number) < 1e11 * scale:
            return number / scale
    return number / 1e6


def _iso_time(text: str) -> float | None:
    """An ISO 8601 time with a zone in ASCII digits as epoch seconds, else None."""
    # isdigit() and float() take digits of other scripts (superscripts, Arabic-Indic).
    if not text.isascii():
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()
