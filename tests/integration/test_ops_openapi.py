"""/openapi.json documents exactly the routes the app serves."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def routed(app: Flask) -> set[tuple[str, str]]:
    """(path, method) of every real route; the admin catch-all is not an endpoint."""
    found = set()
    for rule in app.url_map.iter_rules():
        # The status page (web/page.py) is HTML for browsers, not part of the JSON API.
        if rule.endpoint in ("static", "admin.unknown") or rule.endpoint.startswith("page."):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        found |= {(path, m) for m in (rule.methods or set()) - IGNORED_METHODS}
    return found


def test_openapi_document_lists_exactly_the_routes_of_the_app(
    admin_app: Flask,
) -> None:
    """Every route is documented and every documented operation is routed."""
    doc = admin_app.test_client().get("/openapi.json").get_json()
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops}
    assert documented == routed(admin_app)


def test_openapi_document_is_served_without_a_token(client: FlaskClient) -> None:
    """The document is public and declares the admin Bearer scheme."""
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["admin"]["scheme"] == "bearer"
    assert doc["paths"]["/admin/status"]["get"]["security"] == [{"admin": []}]
