"""Turn a verified webhook body into the minimal events intake stores."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consumer.errors import BodyError, FieldError, InvalidIdentifier, RequestError
from consumer.models import Ignored, ParsedEvent, check_event_id, check_external_id, check_record_id
from consumer.settings import SourceConfig
from consumer.settings.presets import DERIVED_ID
from consumer.sources.batch import load_json, split
from consumer.sources.fields import extract, parse_time

__all__ = ["Parsed", "Rejected", "derived_id", "load_json", "parse", "parse_event", "read"]

# An ignored event's type is echoed back only when it looks like one ("user.updated"): a
# field holding an e-mail address, a name or a megabyte of text is never copied out.
_SHOWN_TYPE = re.compile(r"^[A-Za-z0-9_.:/-]{1,100}$")


@dataclass(frozen=True)
class Rejected:
    """One event of a batch that cannot be accepted, with the error a lone event would get."""

    error: RequestError


Item = ParsedEvent | Ignored | Rejected


@dataclass(frozen=True)
class Parsed:
    """The events of one request; batch is True when the body was an array or envelope."""

    items: list[Item]
    batch: bool


def read(source: SourceConfig, body: bytes, headers: Mapping[str, str]) -> Parsed:
    """Parse every event of a body; a batch keeps going past a bad event (as Rejected)."""
    parts = split(source, body)
    items: list[Item] = []
    for part in parts.items:
        try:
            if isinstance(part, BodyError):
                raise part
            if not isinstance(part, dict):
                raise BodyError("event is not a JSON object")
            items.append(parse_event(source, part, headers))
        except (BodyError, FieldError) as e:
            if not parts.batch:
                raise
            items.append(Rejected(e))
    return Parsed(items, parts.batch)


def parse(
    source: SourceConfig, body: bytes, headers: Mapping[str, str]
) -> list[ParsedEvent | Ignored]:
    """Parse a body into its events, raising the first event's error (single-event callers)."""
    result: list[ParsedEvent | Ignored] = []
    for item in read(source, body, headers).items:
        if isinstance(item, Rejected):
            raise item.error
        result.append(item)
    return result


def derived_id(source: str, data: Any) -> str:
    """A stable event id for senders without one: sha256 of source and canonical JSON."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(source.encode() + b"\n" + canonical.encode("utf-8", "surrogatepass"))
    return "sha256-" + digest.hexdigest()


def _event_id(source: SourceConfig, data: Mapping[str, Any], headers: Mapping[str, str]) -> Any:
    if source.event_id == DERIVED_ID:
        return derived_id(source.name, data)
    return extract(source.event_id, data, headers)


def _external_id(
    source: SourceConfig, event_type: str, data: Mapping[str, Any], headers: Mapping[str, str]
) -> str:
    value = extract(source.external_id_path(event_type), data, headers)
    prefix = source.external_id_prefix(event_type)
    if prefix and isinstance(value, str):
        # Keycloak names the user by resource path ("users/<id>"): the id is what follows.
        if not value.startswith(prefix):
            raise InvalidIdentifier(f"external id must start with {prefix!r}")
        value = value[len(prefix) :]
    return check_external_id(value)


def parse_event(
    source: SourceConfig, data: Mapping[str, Any], headers: Mapping[str, str]
) -> ParsedEvent | Ignored:
    """Read one event object through the source's field paths."""
    event_type = extract(source.event_type, data, headers)
    event_type = event_type if isinstance(event_type, str) else ""
    raw_id = _event_id(source, data, headers)
    if event_type not in source.event_types:
        return _ignored(raw_id, event_type)
    try:
        event_id = check_event_id(raw_id)
    except InvalidIdentifier as e:
        raise FieldError(f"{source.event_id}: {e}") from None
    try:
        external_id = _external_id(source, event_type, data, headers)
    except InvalidIdentifier as e:
        raise FieldError(f"{source.external_id_path(event_type)}: {e}") from None
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


def _ignored(raw_id: Any, event_type: str) -> Ignored:
    """An acknowledged non-deletion; its id and type are echoed only if they are safe to."""
    try:
        event_id: str | None = check_event_id(raw_id)
    except InvalidIdentifier:
        event_id = None
    if not _SHOWN_TYPE.fullmatch(event_type):
        return Ignored(event_id, "", "the event type is not a deletion")
    return Ignored(event_id, event_type, f"event type {event_type!r} is not a deletion")


def _hints(
    source: SourceConfig, data: Mapping[str, Any], headers: Mapping[str, str]
) -> dict[str, tuple[str, ...]]:
    """Record ids the payload:<path> resolvers find, validated now: the body is not kept.

    FieldError past source.max_record_ids in all: one job deletes them all in turn.
    """
    hints: dict[str, tuple[str, ...]] = {}
    count = 0
    for target in source.targets:
        for step in target.resolve:
            if not step.startswith("payload:"):
                continue
            value = extract(step[len("payload:") :], data, headers)
            if value is None or value == "" or value == []:
                continue
            values = value if isinstance(value, list) else [value]
            count += len(values)
            # Counted before any is checked: a 1 MB body holds some 26,000 of them.
            if count > source.max_record_ids:
                raise FieldError(
                    f"{step}: an event may carry at most {source.max_record_ids} record ids"
                )
            try:
                ids = tuple(check_record_id(v) for v in values)
            except InvalidIdentifier as e:
                raise FieldError(f"{step}: {e}") from None
            hints[target.object] = hints.get(target.object, ()) + ids
    return hints
