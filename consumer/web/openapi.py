"""GET /openapi.json: the OpenAPI 3.1 document of the webhook, health and admin endpoints.

Every status an endpoint really answers is listed with the schema of its body, and request
bodies name their fields and types: tests/test_schemathesis.py holds the app to it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from consumer import __version__
from consumer.web.openapi_admin import admin_paths
from consumer.web.schemas import ERROR, NULLABLE_STR, STR, obj, path_params, reply

bp = Blueprint("openapi", __name__)


def _webhook() -> dict[str, Any]:
    result = obj(
        ("status",),
        status={"type": "string", "enum": ["accepted", "duplicate", "ignored", "invalid"]},
        event_id=NULLABLE_STR,
        job_id=NULLABLE_STR,
    )
    batch = obj(("counts", "results"), counts={"type": "object"}, results={"type": "array"})
    answer = {"oneOf": [result, batch]}
    errors = {c: ERROR for c in ("400", "401", "404", "413", "415", "422", "503")}
    return {
        "summary": "Receive a signed deletion webhook",
        "parameters": path_params(source=STR),
        "requestBody": {"content": {"application/json": {"schema": {}}}},
        "responses": {
            "202": reply("accepted (a batch: at least one event accepted)", answer),
            "200": reply("duplicate or ignored", answer),
            **errors,
        },
    }


def _health() -> dict[str, dict[str, Any]]:
    ready = obj(
        ("status", "redis", "config", "sandbox", "sources"),
        status={"type": "string", "enum": ["ready", "unavailable"]},
        redis=STR,
        config=STR,
        sandbox={"type": "boolean"},
        sources={"type": "array", "items": STR},
    )
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "responses": {"200": reply("running", obj(("status",), status=STR))},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness (Redis, config)",
                "responses": {
                    "200": reply("ready", ready),
                    "503": reply("not ready", ready),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus counters, gauges and histograms (the same on every replica)",
                "responses": {
                    "200": {
                        "description": "Prometheus text",
                        "content": {"text/plain": {"schema": STR}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": reply("OpenAPI 3.1")}}
        },
    }


def _okta() -> dict[str, Any]:
    return {
        "summary": "Okta's one-time verification challenge (okta sources only)",
        "parameters": path_params(source=STR),
        "responses": {
            "200": reply("the challenge echoed", obj(("verification",), verification=STR)),
            "400": ERROR,
            "404": ERROR,
            "405": ERROR,
        },
    }


def paths() -> dict[str, dict[str, Any]]:
    """Every documented path and method (a test keeps these equal to the app's routes)."""
    return {
        "/webhooks/{source}": {"post": _webhook(), "get": _okta()},
        **_health(),
        **admin_paths(),
    }


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    error = obj(("error", "message"), error=STR, message=STR)
    return {
        "openapi": "3.1.0",
        "info": {"title": "zeeg-consumer", "version": __version__},
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
