"""GET /openapi.json: the OpenAPI 3.1 document of the webhook, health and admin endpoints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from consumer.ops.events import FILTER_FIELDS

bp = Blueprint("openapi", __name__)

_ERROR = {"$ref": "#/components/responses/Error"}
_ADMIN_ERRORS = {"400": _ERROR, "401": _ERROR, "404": _ERROR, "503": _ERROR}
_FILTERS = FILTER_FIELDS


def _json(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {}}}}


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "schema": {"type": "string"}} for n in names]


def _path(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
    ]


_MAPPING = _path("source", "object_slug", "external_id")


def _admin(summary: str, ok: str = "200", **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [{"admin": []}],
        "responses": {ok: _json(summary), **_ADMIN_ERRORS},
        **extra,
    }


def _body(*fields: str) -> dict[str, Any]:
    props: dict[str, Any] = {f: {} for f in fields}
    return {"content": {"application/json": {"schema": {"type": "object", "properties": props}}}}


def _webhook() -> dict[str, Any]:
    codes = {
        "202": "accepted",
        "200": "duplicate or ignored",
        "400": "not a JSON object",
        "401": "bad signature",
        "404": "unknown source",
        "413": "body too large",
        "415": "not JSON",
        "422": "event or external id missing",
        "503": "Redis down",
    }
    return {
        "summary": "Receive a signed deletion webhook",
        "parameters": _path("source"),
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {code: _json(text) for code, text in codes.items()},
    }


def paths() -> dict[str, dict[str, Any]]:
    """Every documented path and method (a test keeps these equal to the app's routes)."""
    return {
        "/webhooks/{source}": {
            "post": _webhook(),
            "get": {
                "summary": "Okta's one-time verification challenge (okta sources only)",
                "parameters": _path("source"),
                "responses": {"200": _json("the challenge echoed"), "404": _ERROR, "405": _ERROR},
            },
        },
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _json("running")}}},
        "/readyz": {
            "get": {
                "summary": "Readiness (Redis, config)",
                "responses": {"200": _json("ready"), "503": _json("not ready")},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus counters",
                "responses": {"200": {"description": "Prometheus text"}},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json("OpenAPI 3.1")}}
        },
        "/admin/status": {"get": _admin("Delivery status")},
        "/admin/events": {"get": _admin("Search events", parameters=_query(*_FILTERS, "limit"))},
        "/admin/events/{source}/{event_id}": {
            "get": _admin("One event and its trail", parameters=_path("source", "event_id"))
        },
        "/admin/failed": {"get": _admin("Failed jobs with their reasons")},
        "/admin/failed/{job_id}": {"get": _admin("One failed job", parameters=_path("job_id"))},
        "/admin/requeue": {
            "post": _admin(
                "Requeue failed jobs", requestBody=_body("job_ids", "all", "reason", "by")
            )
        },
        "/admin/replay": {
            "post": _admin(
                "Replay stored events", requestBody=_body(*_FILTERS, "dry_run", "reason", "by")
            )
        },
        "/admin/erase": {
            "post": _admin(
                "Erase one external id",
                ok="202",
                requestBody=_body("source", "external_id", "reason", "by"),
            )
        },
        "/admin/audit": {
            "get": _admin(
                "Audit entries as JSON lines (or CSV)",
                parameters=_query("since", "until", "format"),
            )
        },
        "/admin/pause": {"post": _admin("Pause delivery", requestBody=_body("reason", "by"))},
        "/admin/resume": {"post": _admin("Resume delivery", requestBody=_body("by"))},
        "/admin/mappings": {
            "post": _admin(
                "Link mappings in bulk (JSON lines body)",
                requestBody={"content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
            )
        },
        "/admin/mappings/{source}/{object_slug}/{external_id}": {
            "get": _admin("The records linked to one external id", parameters=_MAPPING),
            "put": _admin(
                "Link one record", parameters=_MAPPING, requestBody=_body("record_id", "linked_at")
            ),
            "delete": _admin(
                "Unlink one record (?record_id=) or all",
                parameters=[*_MAPPING, *_query("record_id")],
            ),
        },
    }


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    error = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "zeeg-consumer", "version": "0.1.0"},
        "paths": paths(),
        "components": {
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "JSON error",
                    "content": {"application/json": {"schema": error}},
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI document."""
    return jsonify(document())
