"""What the OpenAPI document is built from: JSON Schemas of identifiers, filters and bodies,
and the response, parameter and request-body pieces every path uses.

Each mirrors a check the app really makes (the identifier checks in consumer.models, the time
parser, the admin body checks), so schemathesis can hold the app to the document.
"""

from __future__ import annotations

from typing import Any

from consumer.models import OUTCOMES
from consumer.ops.events import FILTER_FIELDS, STATUSES

STR = {"type": "string"}

NULLABLE_STR = {"type": ["string", "null"]}

INT = {"type": "integer", "minimum": 0}

# What the time parser takes: epoch seconds, an age (30m, 2h, 7d) or ISO 8601 in UTC.
TIME = {
    "type": "string",
    "pattern": r"^([0-9]{1,10}|[0-9]{1,4}[smhd]|20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z)$",
}

IDENT = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^\x00-\x1f\x7f]+$"}

SOURCE = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,62}$"}

SLUG = {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]{2,59}$"}

RECORD_ID = {
    "type": "string",
    "pattern": r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
}

REASON = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": r"\S"}

BY = {"type": "string", "maxLength": 64, "pattern": r"^[^\x00-\x1f\x7f]*$"}

FILTER_SCHEMAS: dict[str, Any] = {
    "source": SOURCE,
    "external_id": IDENT,
    "event_id": IDENT,
    "status": {"type": "string", "enum": [*STATUSES, "unfinished"]},
    "outcome": {"type": "string", "enum": list(OUTCOMES)},
    "since": TIME,
    "until": TIME,
}


def obj(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    """An object schema with its known properties (answers may add fields later)."""
    return {"type": "object", "required": list(required), "properties": props}


def closed(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    """A request body object: unknown fields are refused by the app."""
    return {**obj(required, **props), "additionalProperties": False}


LISTING = obj(
    ("source", "object", "external_id", "records"),
    source=STR,
    object=STR,
    external_id=STR,
    records={
        "type": "array",
        "items": obj(("record_id", "linked_at"), record_id=STR, linked_at=NULLABLE_STR),
    },
)

REPORT = obj(
    ("linked", "unchanged", "erasures", "spared", "error_count", "errors"),
    linked=INT,
    unchanged=INT,
    erasures={"type": "array"},
    spared=INT,
    error_count=INT,
    errors={"type": "array", "items": obj(("line", "reason"), line=INT, reason=STR)},
)

JOB_RESULT = obj(("source", "event_id", "job_id"), source=STR, event_id=STR, job_id=NULLABLE_STR)

EVENT = obj(("source", "event_id"), source=STR, event_id=STR)

LISTED = {"type": "array", "items": EVENT}

JOB_RESULTS = {"type": "array", "items": JOB_RESULT}

PAUSE_STATE = obj(("paused", "changed"), paused={"type": "boolean"}, changed={"type": "boolean"})

REPLAY_ANSWER = {
    "oneOf": [
        obj(("replayed",), replayed=JOB_RESULTS),
        obj(("count", "sample"), count=INT, sample={"type": "array"}),
    ]
}

# A replay queued as a background job (POST /admin/replay, 202), and that job's state.
REPLAY_STARTED = obj(
    ("job_id", "status", "selected", "status_url"),
    job_id=STR,
    status={"type": "string", "enum": ["queued"]},
    selected=INT,
    status_url=STR,
)
ADMIN_JOB = obj(
    ("job_id", "kind", "status", "selected", "processed", "replayed", "skipped", "results"),
    job_id=STR,
    kind={"type": "string", "enum": ["replay"]},
    status={"type": "string", "enum": ["queued", "running", "done", "failed"]},
    error=NULLABLE_STR,
    by=STR,
    reason=STR,
    selected=INT,
    processed=INT,
    replayed=INT,
    skipped=INT,
    created_at=NULLABLE_STR,
    started_at=NULLABLE_STR,
    finished_at=NULLABLE_STR,
    results={"type": "array", "items": {"type": "object"}},
    results_truncated={"type": "boolean"},
)

ERASED = obj(("source", "external_id", "event_id", "job_id"), source=STR, external_id=STR)

# Request bodies of the admin actions: closed, as the app refuses unknown fields.
ERASE_BODY = closed(
    ("source", "external_id"),
    source=SOURCE,
    external_id=IDENT,
    reason={"type": "string", "maxLength": 500},
    by=BY,
)
REQUEUE_BODY = closed(
    ("reason",),
    job_ids={"type": "array", "items": STR},
    all={"type": "boolean"},
    reason=REASON,
    by=BY,
)
REPLAY_BODY = closed(
    dry_run={"type": "boolean"},
    background={"type": "boolean"},
    reason=REASON,
    by=BY,
    **{f: FILTER_SCHEMAS[f] for f in FILTER_FIELDS},
)


# The OpenAPI pieces every path is built from.
ERROR = {"$ref": "#/components/responses/Error"}


def reply(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OpenAPI response with a JSON body of that schema (any object if none)."""
    body = {"schema": schema if schema is not None else {"type": "object"}}
    return {"description": description, "content": {"application/json": body}}


def query_params(*names: str) -> list[dict[str, Any]]:
    """Query parameters, each with its filter schema (a string if it has none)."""
    return [{"name": n, "in": "query", "schema": FILTER_SCHEMAS.get(n, STR)} for n in names]


def path_params(**schemas: dict[str, Any]) -> list[dict[str, Any]]:
    """Required path parameters with their schemas."""
    return [{"name": n, "in": "path", "required": True, "schema": s} for n, s in schemas.items()]


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional JSON request body of that schema."""
    return {"required": False, "content": {"application/json": {"schema": schema}}}
