"""Field paths into a webhook: a dotted path into the JSON body, or header:<Name>."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_MISSING = object()
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


def parse_time(value: Any) -> float | None:
    """An ISO 8601 string or unix seconds/milliseconds as epoch seconds; None if unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            return _iso_time(text)
        value = float(text)
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            return None
        if not math.isfinite(seconds):
            return None
        # Past 1e11 seconds is the year 5138: such a number is milliseconds.
        return seconds / 1000.0 if abs(seconds) > 1e11 else seconds
    return None


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
