"""Turn a verified webhook body into the minimal events intake stores."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from consumer.errors import BodyError, FieldError, InvalidIdentifier
from consumer.models import Ignored, ParsedEvent, check_event_id, check_external_id, check_record_id
from consumer.settings import SourceConfig
from consumer.sources.fields import extract, parse_time


def load_json(body: bytes) -> Any:
    """Decode a UTF-8 JSON body; BodyError if it is not JSON."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise BodyError("body is not valid UTF-8 JSON") from e


def parse(
    source: SourceConfig, body: bytes, headers: Mapping[str, str]
) -> list[ParsedEvent | Ignored]:
    """Parse a body holding one event (a JSON object) into a one-item list."""
    data = load_json(body)
    if not isinstance(data, dict):
        raise BodyError("body is not a JSON object")
    return [parse_event(source, data, headers)]


def parse_event(
    source: SourceConfig, data: Mapping[str, Any], headers: Mapping[str, str]
) -> ParsedEvent | Ignored:
    """Read one event object through the source's field paths."""
    event_type = extract(source.event_type, data, headers)
    event_type = event_type if isinstance(event_type, str) else ""
    raw_id = extract(source.event_id, data, headers)
    if event_type not in source.event_types:
        event_id = raw_id if isinstance(raw_id, str) else None
        return Ignored(event_id, event_type, f"event type {event_type!r} is not a deletion")
    try:
        event_id = check_event_id(raw_id)
    except InvalidIdentifier as e:
        raise FieldError(f"{source.event_id}: {e}") from None
    try:
        external_id = check_external_id(extract(source.external_id, data, headers))
    except InvalidIdentifier as e:
        raise FieldError(f"{source.external_id}: {e}") from None
    occurred = None
    if source.occurred_at:
        occurred = parse_time(extract(source.occurred_at, data, headers))
    return ParsedEvent(
        source=source.name,
        event_id=event_id,
        event_type=event_type,
        external_id=external_id,
        occurred_at=occurred,
        targets=tuple(t.object for t in source.targets),
        hints=_hints(source, data, headers),
    )


def _hints(
    source: SourceConfig, data: Mapping[str, Any], headers: Mapping[str, str]
) -> dict[str, tuple[str, ...]]:
    """Record ids the payload:<path> resolvers find, validated now: the body is not kept."""
    hints: dict[str, tuple[str, ...]] = {}
    for target in source.targets:
        for step in target.resolve:
            if not step.startswith("payload:"):
                continue
            value = extract(step[len("payload:") :], data, headers)
            if value is None or value == "" or value == []:
                continue
            values = value if isinstance(value, list) else [value]
            try:
                ids = tuple(check_record_id(v) for v in values)
            except InvalidIdentifier as e:
                raise FieldError(f"{step}: {e}") from None
            hints[target.object] = hints.get(target.object, ()) + ids
    return hints
