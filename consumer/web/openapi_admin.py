"""The admin API's part of the OpenAPI document: lookups, actions, delivery controls, mappings."""

from __future__ import annotations

from typing import Any

from consumer.ops.events import FILTER_FIELDS
from consumer.web.schemas import (
    BY,
    ERASE_BODY,
    ERASED,
    ERROR,
    IDENT,
    INT,
    JOB_RESULTS,
    LISTED,
    LISTING,
    PAUSE_STATE,
    REASON,
    RECORD_ID,
    REPLAY_ANSWER,
    REPLAY_BODY,
    REPORT,
    REQUEUE_BODY,
    SLUG,
    SOURCE,
    STR,
    closed,
    json_body,
    obj,
    path_params,
    query_params,
    reply,
)

# Every admin call may meet these: bad input, no token, API off or not found, a body over
# max_body_bytes, Redis down.
_ADMIN_ERRORS = {c: ERROR for c in ("400", "401", "404", "413", "503")}
_FILTERS = FILTER_FIELDS
_MAPPING = path_params(source=SOURCE, object_slug=SLUG, external_id=IDENT)


def _admin(summary: str, ok: dict[str, Any], code: str = "200", **extra: Any) -> dict[str, Any]:
    errors = dict(_ADMIN_ERRORS)
    errors.update(extra.pop("errors", {}))
    return {
        "summary": summary,
        "security": [{"admin": []}],
        "responses": {code: ok, **errors},
        **extra,
    }


_AUDIT = {
    "description": "the entries, streamed",
    "content": {"application/x-ndjson": {"schema": STR}, "text/csv": {"schema": STR}},
}
_LIMIT = {"name": "limit", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,6}$"}}
_FORMAT = {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["jsonl", "csv"]}}


def _lookups() -> dict[str, dict[str, Any]]:
    """The admin paths that only read."""
    event = obj(("trail",), trail={"type": "array"})
    return {
        "/admin/status": {"get": _admin("Delivery status", reply("status", obj(("queued",))))},
        "/admin/events": {
            "get": _admin(
                "Search events",
                reply("matching events, newest first", obj(("events",), events=LISTED)),
                parameters=[*query_params(*_FILTERS), _LIMIT],
            )
        },
        "/admin/events/{source}/{event_id}": {
            "get": _admin(
                "One event and its trail",
                reply("the event", event),
                parameters=path_params(source=STR, event_id=STR),
            )
        },
        "/admin/failed": {
            "get": _admin(
                "Failed jobs",
                reply("failed jobs", obj(("failed",), failed=LISTED)),
            )
        },
        "/admin/failed/{job_id}": {
            "get": _admin(
                "One failed job",
                reply("the job and its event", obj(("job_id",), job_id=STR)),
                parameters=path_params(job_id=STR),
            )
        },
        "/admin/audit": {
            "get": _admin(
                "Audit entries as JSON lines (or CSV)",
                _AUDIT,
                parameters=[*query_params("since", "until"), _FORMAT],
            )
        },
    }


def _actions() -> dict[str, dict[str, Any]]:
    """The admin paths that change events (each records who and why)."""
    return {
        "/admin/requeue": {
            "post": _admin(
                "Requeue failed jobs",
                reply("requeued", obj(("requeued",), requeued=JOB_RESULTS)),
                requestBody=json_body(REQUEUE_BODY),
            )
        },
        "/admin/replay": {
            "post": _admin(
                "Replay stored events",
                reply("replayed, or with dry_run the count and a sample", REPLAY_ANSWER),
                requestBody=json_body(REPLAY_BODY),
            )
        },
        "/admin/erase": {
            "post": _admin(
                "Erase one external id",
                reply("queued through the webhook pipeline", ERASED),
                code="202",
                requestBody=json_body(ERASE_BODY),
            )
        },
    }


def _controls() -> dict[str, dict[str, Any]]:
    """The admin paths that pause and resume delivery."""
    return {
        "/admin/pause": {
            "post": _admin(
                "Pause delivery",
                reply("paused", PAUSE_STATE),
                requestBody=json_body(closed(("reason",), reason=REASON, by=BY)),
            )
        },
        "/admin/resume": {
            "post": _admin(
                "Resume delivery",
                reply("resumed", PAUSE_STATE),
                requestBody=json_body(closed(by=BY)),
            )
        },
    }


def _mapping_paths() -> dict[str, dict[str, Any]]:
    unprocessable = {"422": ERROR}
    row = closed(("record_id",), record_id=RECORD_ID, linked_at={"type": ["string", "number"]})
    return {
        "/admin/mappings": {
            "post": _admin(
                "Link mappings in bulk (JSON lines body)",
                reply("the import report", REPORT),
                errors={
                    "422": reply(
                        "no line was valid",
                        {**REPORT, "required": ["error", "message", *REPORT["required"]]},
                    )
                },
                requestBody={"content": {"application/x-ndjson": {"schema": STR}}},
            )
        },
        "/admin/mappings/{source}/{object_slug}/{external_id}": {
            "get": _admin(
                "The records linked to one external id",
                reply("the links", LISTING),
                parameters=_MAPPING,
                errors=unprocessable,
            ),
            "put": _admin(
                "Link one record",
                reply("the links after the change", LISTING),
                parameters=_MAPPING,
                requestBody={"required": True, "content": {"application/json": {"schema": row}}},
                errors=unprocessable,
            ),
            "delete": _admin(
                "Unlink one record (?record_id=) or all",
                reply("how many links were removed", obj(("removed",), removed=INT)),
                parameters=[*_MAPPING, {"name": "record_id", "in": "query", "schema": RECORD_ID}],
                errors=unprocessable,
            ),
        },
    }


_CHECKPOINT = obj(("type", "head", "entries", "signed"), signed={"type": "boolean"})


def _proof_paths() -> dict[str, dict[str, Any]]:
    """The admin paths of signed receipts, the public key and the chain checkpoints."""
    receipt = obj(("type", "source", "event_id", "records", "signed"), records={"type": "array"})
    return {
        "/admin/receipts/{source}/{event_id}": {
            "get": _admin(
                "The signed receipt of one done or failed erasure",
                reply("the receipt", receipt),
                parameters=path_params(source=STR, event_id=STR),
                errors={"409": ERROR},
            )
        },
        "/admin/audit/public-key": {
            "get": _admin(
                "The Ed25519 public key receipts and checkpoints are signed with",
                reply("the key", obj(("algorithm", "public_key", "key_id"))),
            )
        },
        "/admin/audit/checkpoints": {
            "get": _admin(
                "The newest checkpoints of the audit chain",
                reply("newest first", obj(("checkpoints",), checkpoints=LISTED)),
                parameters=[
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "string", "pattern": "^[0-9]{1,4}$"},
                    }
                ],
            )
        },
        "/admin/audit/checkpoint": {
            "post": _admin(
                "Take a checkpoint now", reply("the checkpoint", _CHECKPOINT), code="201"
            )
        },
    }


def admin_paths() -> dict[str, dict[str, Any]]:
    """Every documented /admin path and method."""
    return {**_lookups(), **_actions(), **_controls(), **_mapping_paths(), **_proof_paths()}
