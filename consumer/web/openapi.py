"""GET /openapi.json: the OpenAPI 3.1 document of the webhook, health and admin endpoints.

Every status an endpoint really answers is listed with the schema of its body, and request
bodies name their fields and types: tests/test_schemathesis.py holds the app to it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from consumer.models import OUTCOMES
from consumer.ops.events import FILTER_FIELDS, STATUSES

bp = Blueprint("openapi", __name__)

_ERROR = {"$ref": "#/components/responses/Error"}
# Every admin call may meet these: bad input, no token, API off or not found, a body over
# max_body_bytes, Redis down.
_ADMIN_ERRORS = {c: _ERROR for c in ("400", "401", "404", "413", "503")}
_STR = {"type": "string"}
_NULLABLE_STR = {"type": ["string", "null"]}
_INT = {"type": "integer", "minimum": 0}
# What the time parser takes: epoch seconds, an age (30m, 2h, 7d) or ISO 8601 in UTC.
_TIME = {
    "type": "string",
    "pattern": r"^([0-9]{1,10}|[0-9]{1,4}[smhd]|20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z)$",
}
_IDENT = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^\x00-\x1f\x7f]+$"}
_SOURCE = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,62}$"}
_SLUG = {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]{2,59}$"}
_RECORD_ID = {
    "type": "string",
    "pattern": r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
}
_REASON = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": r"\S"}
_BY = {"type": "string", "maxLength": 64, "pattern": r"^[^\x00-\x1f\x7f]*$"}
_FILTER_SCHEMAS: dict[str, Any] = {
    "source": _SOURCE,
    "external_id": _IDENT,
    "event_id": _IDENT,
    "status": {"type": "string", "enum": [*STATUSES, "unfinished"]},
    "outcome": {"type": "string", "enum": list(OUTCOMES)},
    "since": _TIME,
    "until": _TIME,
}
_FILTERS = FILTER_FIELDS


def _object(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    """An object schema with its known properties (answers may add fields later)."""
    return {"type": "object", "required": list(required), "properties": props}


def _closed(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    """A request body object: unknown fields are refused by the app."""
    return {**_object(required, **props), "additionalProperties": False}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"schema": schema if schema is not None else {"type": "object"}}
    return {"description": description, "content": {"application/json": body}}


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "schema": _FILTER_SCHEMAS.get(n, _STR)} for n in names]


def _path(**schemas: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": n, "in": "path", "required": True, "schema": s} for n, s in schemas.items()]


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": False, "content": {"application/json": {"schema": schema}}}


_MAPPING = _path(source=_SOURCE, object_slug=_SLUG, external_id=_IDENT)
_LISTING = _object(
    ("source", "object", "external_id", "records"),
    source=_STR,
    object=_STR,
    external_id=_STR,
    records={
        "type": "array",
        "items": _object(("record_id", "linked_at"), record_id=_STR, linked_at=_NULLABLE_STR),
    },
)
_REPORT = _object(
    ("linked", "unchanged", "erasures", "spared", "error_count", "errors"),
    linked=_INT,
    unchanged=_INT,
    erasures={"type": "array"},
    spared=_INT,
    error_count=_INT,
    errors={"type": "array", "items": _object(("line", "reason"), line=_INT, reason=_STR)},
)
_JOB_RESULT = _object(
    ("source", "event_id", "job_id"), source=_STR, event_id=_STR, job_id=_NULLABLE_STR
)
_EVENT = _object(("source", "event_id"), source=_STR, event_id=_STR)


def _admin(summary: str, ok: dict[str, Any], code: str = "200", **extra: Any) -> dict[str, Any]:
    errors = dict(_ADMIN_ERRORS)
    errors.update(extra.pop("errors", {}))
    return {
        "summary": summary,
        "security": [{"admin": []}],
        "responses": {code: ok, **errors},
        **extra,
    }


def _webhook() -> dict[str, Any]:
    result = _object(
        ("status",),
        status={"type": "string", "enum": ["accepted", "duplicate", "ignored", "invalid"]},
        event_id=_NULLABLE_STR,
        job_id=_NULLABLE_STR,
    )
    batch = _object(("counts", "results"), counts={"type": "object"}, results={"type": "array"})
    answer = {"oneOf": [result, batch]}
    errors = {c: _ERROR for c in ("400", "401", "404", "413", "415", "422", "503")}
    return {
        "summary": "Receive a signed deletion webhook",
        "parameters": _path(source=_STR),
        "requestBody": {"content": {"application/json": {"schema": {}}}},
        "responses": {
            "202": _json("accepted (a batch: at least one event accepted)", answer),
            "200": _json("duplicate or ignored", answer),
            **errors,
        },
    }


def _health() -> dict[str, dict[str, Any]]:
    ready = _object(
        ("status", "redis", "config", "sandbox", "sources"),
        status={"type": "string", "enum": ["ready", "unavailable"]},
        redis=_STR,
        config=_STR,
        sandbox={"type": "boolean"},
        sources={"type": "array", "items": _STR},
    )
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "responses": {"200": _json("running", _object(("status",), status=_STR))},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness (Redis, config)",
                "responses": {"200": _json("ready", ready), "503": _json("not ready", ready)},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus counters",
                "responses": {
                    "200": {
                        "description": "Prometheus text",
                        "content": {"text/plain": {"schema": _STR}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json("OpenAPI 3.1")}}
        },
    }


def _okta() -> dict[str, Any]:
    return {
        "summary": "Okta's one-time verification challenge (okta sources only)",
        "parameters": _path(source=_STR),
        "responses": {
            "200": _json("the challenge echoed", _object(("verification",), verification=_STR)),
            "400": _ERROR,
            "404": _ERROR,
            "405": _ERROR,
        },
    }


_LISTED = {"type": "array", "items": _EVENT}
_JOB_RESULTS = {"type": "array", "items": _JOB_RESULT}
_PAUSE_STATE = _object(
    ("paused", "changed"), paused={"type": "boolean"}, changed={"type": "boolean"}
)
_REPLAY_ANSWER = {
    "oneOf": [
        _object(("replayed",), replayed=_JOB_RESULTS),
        _object(("count", "sample"), count=_INT, sample={"type": "array"}),
    ]
}
_ERASED = _object(("source", "external_id", "event_id", "job_id"), source=_STR, external_id=_STR)
_AUDIT = {
    "description": "the entries, streamed",
    "content": {"application/x-ndjson": {"schema": _STR}, "text/csv": {"schema": _STR}},
}
_LIMIT = {"name": "limit", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,6}$"}}
_FORMAT = {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["jsonl", "csv"]}}


def _lookups() -> dict[str, dict[str, Any]]:
    """The admin paths that only read."""
    event = _object(("trail",), trail={"type": "array"})
    return {
        "/admin/status": {"get": _admin("Delivery status", _json("status", _object(("queued",))))},
        "/admin/events": {
            "get": _admin(
                "Search events",
                _json("matching events, newest first", _object(("events",), events=_LISTED)),
                parameters=[*_query(*_FILTERS), _LIMIT],
            )
        },
        "/admin/events/{source}/{event_id}": {
            "get": _admin(
                "One event and its trail",
                _json("the event", event),
                parameters=_path(source=_STR, event_id=_STR),
            )
        },
        "/admin/failed": {
            "get": _admin("Failed jobs", _json("failed jobs", _object(("failed",), failed=_LISTED)))
        },
        "/admin/failed/{job_id}": {
            "get": _admin(
                "One failed job",
                _json("the job and its event", _object(("job_id",), job_id=_STR)),
                parameters=_path(job_id=_STR),
            )
        },
        "/admin/audit": {
            "get": _admin(
                "Audit entries as JSON lines (or CSV)",
                _AUDIT,
                parameters=[*_query("since", "until"), _FORMAT],
            )
        },
    }


def _actions() -> dict[str, dict[str, Any]]:
    """The admin paths that change something (each records who and why)."""
    filters = {f: _FILTER_SCHEMAS[f] for f in _FILTERS}
    jobs = {"type": "array", "items": _STR}
    erase = _closed(
        ("source", "external_id"),
        source=_SOURCE,
        external_id=_IDENT,
        reason={"type": "string", "maxLength": 500},
        by=_BY,
    )
    requeue = _closed(("reason",), job_ids=jobs, all={"type": "boolean"}, reason=_REASON, by=_BY)
    replay = _closed(dry_run={"type": "boolean"}, reason=_REASON, by=_BY, **filters)
    return {
        "/admin/requeue": {
            "post": _admin(
                "Requeue failed jobs",
                _json("requeued", _object(("requeued",), requeued=_JOB_RESULTS)),
                requestBody=_body(requeue),
            )
        },
        "/admin/replay": {
            "post": _admin(
                "Replay stored events",
                _json("replayed, or with dry_run the count and a sample", _REPLAY_ANSWER),
                requestBody=_body(replay),
            )
        },
        "/admin/erase": {
            "post": _admin(
                "Erase one external id",
                _json("queued through the webhook pipeline", _ERASED),
                code="202",
                requestBody=_body(erase),
            )
        },
        "/admin/pause": {
            "post": _admin(
                "Pause delivery",
                _json("paused", _PAUSE_STATE),
                requestBody=_body(_closed(("reason",), reason=_REASON, by=_BY)),
            )
        },
        "/admin/resume": {
            "post": _admin(
                "Resume delivery",
                _json("resumed", _PAUSE_STATE),
                requestBody=_body(_closed(by=_BY)),
            )
        },
    }


def _mapping_paths() -> dict[str, dict[str, Any]]:
    unprocessable = {"422": _ERROR}
    row = _closed(("record_id",), record_id=_RECORD_ID, linked_at={"type": ["string", "number"]})
    return {
        "/admin/mappings": {
            "post": _admin(
                "Link mappings in bulk (JSON lines body)",
                _json("the import report", _REPORT),
                errors={
                    "422": _json(
                        "no line was valid",
                        {**_REPORT, "required": ["error", "message", *_REPORT["required"]]},
                    )
                },
                requestBody={"content": {"application/x-ndjson": {"schema": _STR}}},
            )
        },
        "/admin/mappings/{source}/{object_slug}/{external_id}": {
            "get": _admin(
                "The records linked to one external id",
                _json("the links", _LISTING),
                parameters=_MAPPING,
                errors=unprocessable,
            ),
            "put": _admin(
                "Link one record",
                _json("the links after the change", _LISTING),
                parameters=_MAPPING,
                requestBody={"required": True, "content": {"application/json": {"schema": row}}},
                errors=unprocessable,
            ),
            "delete": _admin(
                "Unlink one record (?record_id=) or all",
                _json("how many links were removed", _object(("removed",), removed=_INT)),
                parameters=[*_MAPPING, {"name": "record_id", "in": "query", "schema": _RECORD_ID}],
                errors=unprocessable,
            ),
        },
    }


def paths() -> dict[str, dict[str, Any]]:
    """Every documented path and method (a test keeps these equal to the app's routes)."""
    return {
        "/webhooks/{source}": {"post": _webhook(), "get": _okta()},
        **_health(),
        **_lookups(),
        **_actions(),
        **_mapping_paths(),
    }


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    error = _object(("error", "message"), error=_STR, message=_STR)
    return {
        "openapi": "3.1.0",
        "info": {"title": "zeeg-consumer", "version": "0.1.0"},
        "paths": paths(),
        "components": {
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": 'JSON error: {"error": code, "message": one sentence}',
                    "content": {"application/json": {"schema": error}},
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI document."""
    return jsonify(document())
