"""Frozen values passed between layers, and the identifier checks that guard URLs and keys."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from consumer.errors import InvalidIdentifier, OperatorError

# \Z, not $, and checked with fullmatch(): in Python "$" also matches before a final newline,
# which must never reach a URL or a key.
OBJECT_SLUG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{2,59}\Z")
RECORD_ID = re.compile(
    r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\Z"
)
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}\Z")
# C0, DEL and C1 (\x9b is a terminal's CSI): control characters in every script.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Terminal outcomes of one target (SPEC 5.3); "failed" is terminal until an operator requeues.
DELETED = "deleted"
ALREADY_DELETED = "already_deleted"
NOT_MAPPED = "not_mapped"
STALE = "stale"
DRY_RUN = "dry_run"
FAILED = "failed"
OUTCOMES = (DELETED, ALREADY_DELETED, NOT_MAPPED, STALE, DRY_RUN, FAILED)


class EventStatus(StrEnum):
    """Where a stored event stands; every move is made by one function of store.events.

    The value is what the event hash stores and operators read, so it never changes.

    - accepted (webhook, manual erase, late link): `write_new` -> QUEUED
    - a job picks it up: `mark_running` QUEUED, RETRYING, AUTH_PAUSED, RATE_LIMITED -> RUNNING
      (RUNNING again when RQ reruns a job whose worker died)
    - a job puts it off with a new job later: `reschedule` -> RETRYING (a transient failure
      or a record claimed by another run), AUTH_PAUSED (delivery paused, also before a job
      starts), RATE_LIMITED (a long wait at the gate)
    - attempts exhausted or Zeeg rejected it: `mark_failed` -> FAILED
    - every target has its outcome: `mark_done` -> DONE
    - an operator requeues a failed job: `reset_for_requeue` FAILED -> QUEUED
    - an operator replays it: `reset_for_replay` any but RUNNING (and EXPIRED) -> QUEUED

    EXPIRED is never stored: it names an event whose hash is gone (past retention) while
    its event log entry remains; a replay stores it afresh as QUEUED.
    """

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    AUTH_PAUSED = "auth_paused"
    RATE_LIMITED = "rate_limited"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


def quoted(value: object, limit: int = 64) -> str:
    """An outside value for a message, quoted and cut short: an error never echoes a body."""
    text = value if isinstance(value, str) else repr(value)
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def encodable(value: str) -> bool:
    """Whether value can be written as UTF-8: a lone surrogate ("\\ud800") cannot."""
    # JSON may spell one as an escape, and a CLI argument holds one for each byte that is
    # not UTF-8; either would pass a length check and then fail inside the Redis client.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Categories free text must not hold: controls (C0, DEL, C1: newlines, escape sequences), format
# characters (bidi overrides and isolates, zero-width space, BOM), lone surrogates, and the
# line and paragraph separators. Each can forge a log line or rewrite what a terminal shows.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Joiners are format characters some scripts (Persian, Indic) and emoji need; they move nothing.
_JOINERS = frozenset({"\u200c", "\u200d"})


def _unsafe(char: str) -> bool:
    return unicodedata.category(char) in _UNSAFE_CATEGORIES and char not in _JOINERS


REASON_LIMIT = 500  # characters of an operator's reason kept in trails
BY_LIMIT = 64  # characters of who acts


def check_free_text(value: object, name: str, limit: int) -> str:
    """Operator free text (a reason, who acts), stripped and cut to limit characters.

    OperatorError if it is not a string, is blank, or holds a control or format character.
    """
    if not isinstance(value, str):
        raise OperatorError(f"{name} must be a string")
    if any(_unsafe(c) for c in value):
        raise OperatorError(
            f"{name} must not contain control characters (newlines, tabs, escape sequences) "
            "or invisible format characters (bidi overrides, U+2028)"
        )
    text = value.strip()
    if not text:
        raise OperatorError(f"{name} must not be empty")
    return text[:limit]


def shown(value: str) -> str:
    """Text for a terminal: every control or format character as a repr-style escape."""
    if not any(_unsafe(c) for c in value):
        return value
    return "".join(repr(c)[1:-1] if _unsafe(c) else c for c in value)


def check_source_name(value: object) -> str:
    """Return value if it is a valid source name (it becomes part of Redis keys)."""
    if not isinstance(value, str) or not encodable(value) or not SOURCE_NAME.fullmatch(value):
        raise InvalidIdentifier(f"invalid source {quoted(value)}")
    return value


def check_object_slug(value: str) -> str:
    """Return value if it is a valid Zeeg object slug, else raise InvalidIdentifier."""
    if not isinstance(value, str) or not encodable(value) or not OBJECT_SLUG.fullmatch(value):
        raise InvalidIdentifier(f"invalid object slug {quoted(value)}")
    return value


def check_record_id(value: str) -> str:
    """Return the record id lower-cased if it has the 8-4-4-4-12 hex shape."""
    if not isinstance(value, str) or not encodable(value) or not RECORD_ID.fullmatch(value):
        raise InvalidIdentifier("record id is not of the 8-4-4-4-12 hex shape")
    return value.lower()


def check_external_id(value: object) -> str:
    """Return value if it is an opaque string of 1-255 characters without control characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 1 <= len(value) <= 255 or _CONTROL.search(value):
        raise InvalidIdentifier("external id must be 1-255 characters without control characters")
    if not encodable(value):
        raise InvalidIdentifier("external id must be valid Unicode text (no lone surrogates)")
    return value


def check_event_id(value: object) -> str:
    """Event ids follow the external-id rules: they become part of Redis keys."""
    try:
        return check_external_id(value)
    except InvalidIdentifier as e:
        raise InvalidIdentifier(str(e).replace("external id", "event id", 1)) from None


def stored_seconds(value: str | None) -> float | None:
    """A stored time in epoch seconds, or None if it is absent or no time (a hand edit)."""
    try:
        seconds = float(value or "")
    except ValueError:
        return None
    # 1970 to 9999: what a date can hold; anything else was never a time this service wrote.
    return seconds if 0 < seconds < 253402300800.0 else None


def json_object(text: str) -> dict[str, Any] | None:
    """The JSON object text holds, or None if it is not JSON or not an object (a hand edit)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _stored_count(value: str | None) -> int:
    text = value or ""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 20 else 0


@dataclass(frozen=True)
class ParsedEvent:
    """What intake keeps of one webhook event: never the raw body, never names or e-mails."""

    source: str
    event_id: str
    event_type: str
    external_id: str
    occurred_at: float | None
    targets: tuple[str, ...]
    # Record ids carried in the payload, per object (the payload:<path> resolver).
    hints: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def hints_json(self) -> str:
        """The hints as compact JSON for storage."""
        return json.dumps({k: list(v) for k, v in self.hints.items()}, separators=(",", ":"))


@dataclass(frozen=True)
class Event(ParsedEvent):
    """A stored event with its intake bookkeeping."""

    received_at: float = 0.0
    job_id: str = ""
    status: str = EventStatus.QUEUED  # as stored: a hand-edited value is kept, not fatal
    attempts: int = 0
    replayed: bool = False

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Event:
        """Build from the Redis hash written by store.events."""
        hints: dict[str, Any] = json.loads(data.get("hints") or "{}")
        return cls(
            source=data["source"],
            event_id=data["event_id"],
            event_type=data.get("event_type", ""),
            external_id=data["external_id"],
            occurred_at=stored_seconds(data.get("occurred_at")),
            targets=tuple(t for t in data.get("targets", "").split(",") if t),
            hints={k: tuple(v) for k, v in hints.items()},
            received_at=stored_seconds(data.get("received_at")) or 0.0,
            job_id=data.get("job_id", ""),
            status=data.get("status", EventStatus.QUEUED),
            attempts=_stored_count(data.get("attempts")),
            replayed=data.get("replayed") == "1",
        )


@dataclass(frozen=True)
class Outcome:
    """The result of erasing one record (or finding none) for one target object."""

    object: str
    outcome: str
    record_id: str | None = None
    http_status: int | None = None
    detail: str = ""
    # zeeg.verify_deletions: True once Zeeg answered 404 for the record after its DELETE,
    # False when it was still found; None when not checked (left out of the stored form).
    verified: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields in declaration order: the shape of every stored outcome."""
        fields = asdict(self)
        if self.verified is None:
            # Unverified outcomes keep the shape written before the field existed.
            del fields["verified"]
        return fields

    def to_json(self) -> str:
        """Compact JSON, as stored per record on the event hash."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Outcome:
        """The outcome to_json wrote."""
        return cls(**json.loads(text))

    @staticmethod
    def many_to_json(outcomes: list[Outcome]) -> str:
        """A target's outcomes as one compact JSON list, as stored per target."""
        return json.dumps([o.to_dict() for o in outcomes], separators=(",", ":"))

    @classmethod
    def many_from_json(cls, text: str) -> list[Outcome]:
        """The outcomes many_to_json wrote."""
        return [cls(**o) for o in json.loads(text)]


@dataclass(frozen=True)
class Mapping:
    """A link from an upstream external id to one Zeeg record, with the time it was linked."""

    source: str
    object: str
    external_id: str
    record_id: str
    linked_at: float


@dataclass(frozen=True)
class Ignored:
    """An event that verified but is not a deletion: acknowledged and dropped."""

    event_id: str | None
    event_type: str
    reason: str
