"""schemathesis against /openapi.json: no 5xx, and every answer matches the document.

Checked for each generated request (valid and schema-violating ones): no server error, a
documented status code, a documented content type, a body matching the documented schema.
Two of schemathesis' checks are left out on purpose: whether a schema-valid request is
accepted, and whether a schema-invalid one is refused, depend on the configured sources and
on what Redis holds (an unknown job id is a 404 whatever its shape), which no static
document can say. The Allow-header checks are left out too: an undeclared method on an /admin
path is answered by the admin catch-all (404, as an unknown admin path is), and Flask's
automatic OPTIONS lists the catch-all's methods; the 405s of the other paths carry Allow, which
a test below pins.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    unsupported_method,
)

from consumer.settings import Settings
from consumer.store.connection import Connections
from consumer.web import create_app
from consumer.web.openapi import document
from tests.fuzzing import SCALE
from tests.helpers import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# The document is static (a test keeps it equal to what /openapi.json serves); each case is
# sent to a fresh admin-enabled app over WSGI (the lazy fixture loader fails on pytest 9).
schema = schemathesis.openapi.from_dict(document())
# POST /admin/mappings takes JSON lines: a string body, sent as text.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
DOC_PATHS = sorted((p, m) for p, ops in document()["paths"].items() for m in ops)
ADMIN_PATHS = [(p, m) for p, m in DOC_PATHS if p.startswith("/admin")]


@schema.parametrize()
@settings(
    max_examples=12 * SCALE,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_documented(case: Any, admin_app: Flask) -> None:
    """Generated requests get no 5xx and no answer the document does not allow."""
    excluded = [
        positive_data_acceptance,
        negative_data_rejection,
        unsupported_method,
        allow_header_conformance,
    ]
    # Set on the schema, not per call: the ignored-auth probe sends through the schema's app.
    case.operation.schema.app = admin_app
    case.call_and_validate(app=admin_app, headers=AUTH, excluded_checks=excluded)


def test_the_served_document_is_the_one_tested(admin_app: Flask) -> None:
    """The schema under test is what /openapi.json answers."""
    assert admin_app.test_client().get("/openapi.json").get_json() == document()


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_a_405_names_the_allowed_methods(admin_app: Flask, path: str) -> None:
    """RFC 9110: a 405 carries Allow, so a client learns what the path takes."""
    answer = admin_app.test_client().open(path, method="TRACE")
    assert answer.status_code == 405
    assert "GET" in answer.headers.get("Allow", ""), dict(answer.headers)


def _concrete(path: str) -> str:
    """The path with every {parameter} filled with a valid-looking value."""
    return re.sub(r"\{[a-z_]+\}", "contacts", path)


@pytest.mark.parametrize(("path", "method"), ADMIN_PATHS)
def test_every_admin_path_is_401_without_the_token(
    admin_app: Flask, conns: Connections, path: str, method: str
) -> None:
    """CONSUMER_ADMIN_TOKEN set but not sent: every documented admin operation is a 401."""
    answer = admin_app.test_client().open(_concrete(path), method=method.upper(), json={})
    assert answer.status_code == 401, answer.get_json()
    assert answer.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize(("path", "method"), ADMIN_PATHS)
def test_every_admin_path_is_404_with_the_admin_api_off(
    settings: Settings, conns: Connections, path: str, method: str
) -> None:
    """No CONSUMER_ADMIN_TOKEN: every documented admin operation is a 404, token or not."""
    app = create_app(settings, redis=conns)
    assert not settings.admin_token
    for headers in ({}, AUTH, {"Authorization": "Bearer "}):
        answer = app.test_client().open(
            _concrete(path), method=method.upper(), json={}, headers=headers
        )
        assert answer.status_code == 404, (headers, answer.get_json())


def test_the_walk_covers_every_admin_route(admin_app: Flask) -> None:
    """The two walks above reach every /admin route the app has (but the status page's, HTML
    behind its own login: tests/integration/test_status_page.py walks those)."""
    routed = {
        (re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", r.rule), m.lower())
        for r in admin_app.url_map.iter_rules()
        if r.rule.startswith("/admin") and r.endpoint != "admin.unknown"
        if not r.endpoint.startswith("page.")
        for m in (r.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert routed == set(ADMIN_PATHS)
