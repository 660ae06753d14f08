"""Field paths into a webhook: a dotted path into the JSON body, or header:<Name>."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_MISSING = object()
# The times taken from outside: 2000-01-01 up to (not including) 2100-01-01, UTC.
EARLIEST = 946684800.0
LATEST = 4102444800.0
# What a date can hold (9999-12-31): the range for times Zeeg itself reports.
DATE_LATEST = 253402300800.0
# A unix time as text: ASCII digits only (str.isdigit() is also true for "²" and "①").
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)


def extract(path: str, body: Any, headers: Mapping[str, str]) -> Any:
    """Return the value at path, or None when any step is missing."""
    if path.startswith("header:"):
        name = path[len("header:") :].lower()
        # Svix and Clerk send the Standard Webhooks headers under a svix- prefix, and the
        # verifier accepts either spelling: so does the field path, both ways.
        for ours, theirs in (("webhook-", "svix-"), ("svix-", "webhook-")):
            if name not in headers and name.startswith(ours):
                return headers.get(theirs + name[len(ours) :])
        return headers.get(name)
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
