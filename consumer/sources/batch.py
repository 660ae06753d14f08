"""Split a verified body into the events it carries: one object, or a batch (Auth0, Okta).

options.batch = "array": a JSON array of events, JSON lines, or a single object (Auth0 log
streams offer all three formats). Any other value is a dotted path to the events array inside
an envelope object (Okta: "data.events"). Without it the body is one event object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from consumer.errors import BodyError
from consumer.settings import SourceConfig
from consumer.settings.presets import BATCH_ARRAY
from consumer.sources.fields import extract

# The most events one request may carry: each becomes its own intake transaction.
MAX_BATCH = 1000


@dataclass(frozen=True)
class Split:
    """The items of a body (each a decoded JSON value, or the BodyError it raised)."""

    items: list[Any]
    batch: bool


def load_json(body: bytes) -> Any:
    """Decode a UTF-8 JSON body; BodyError if it is not JSON."""
    try:
        return json.loads(body.decode("utf-8"))
    # ValueError also covers an integer past Python's 4300-digit limit, which json.loads
    # raises bare (not as JSONDecodeError).
    except (ValueError, RecursionError) as e:
        raise BodyError("body is not valid UTF-8 JSON") from e


def split(source: SourceConfig, body: bytes) -> Split:
    """The events of body, per the source's batch option; BodyError if there are none."""
    mode = source.options.get("batch")
    if mode == BATCH_ARRAY:
        result = _array_or_lines(body)
    else:
        data = load_json(body)
        if not isinstance(data, dict):
            raise BodyError("body is not a JSON object")
        result = _envelope(data, mode) if mode else Split([data], batch=False)
    if not result.items:
        raise BodyError("the batch holds no events")
    if len(result.items) > MAX_BATCH:
        raise BodyError(f"a batch may hold at most {MAX_BATCH} events")
    return result


def _envelope(data: dict[str, Any], path: str) -> Split:
    events = extract(path, data, {})
    if not isinstance(events, list):
        raise BodyError(f"{path} is not a list of events")
    return Split(list(events), batch=True)


def _array_or_lines(body: bytes) -> Split:
    try:
        data = load_json(body)
    except BodyError:
        return _lines(body)
    if isinstance(data, list):
        return Split(data, batch=True)
    if isinstance(data, dict):
        return Split([data], batch=False)
    raise BodyError("body is not a JSON object, array or JSON lines")


def _lines(body: bytes) -> Split:
    """JSON lines: a line that is not JSON becomes a BodyError item, the others still count."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BodyError("body is not valid UTF-8") from e
    items: list[Any] = []
    # Split on \n only (a \r before it is JSON whitespace): str.splitlines() also breaks on
    # U+2028, U+2029 and U+0085, which JSON strings may hold raw, and would cut an event.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except (ValueError, RecursionError):
            items.append(BodyError(f"line {number} is not JSON"))
    if items and all(isinstance(i, BodyError) for i in items):
        raise BodyError("body is not valid JSON or JSON lines")
    return Split(items, batch=True)
