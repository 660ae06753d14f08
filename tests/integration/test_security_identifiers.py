"""A trailing newline never slips through an identifier check ("$" matches before one)."""

from __future__ import annotations

import json
import uuid

import pytest
from flask.testing import FlaskClient

from consumer.errors import InvalidIdentifier
from consumer.mappings import sync
from consumer.settings import Settings
from consumer.store.connection import Connections
from tests.helpers import context, signed

RID = str(uuid.uuid4())


def test_a_payload_record_id_with_a_trailing_newline_is_422(
    client: FlaskClient, settings: Settings
) -> None:
    """A DELETE of '<uuid>%0A' would be a 404, recorded as already_deleted: refuse it."""
    body = json.dumps({"type": "user.deleted", "data": {"id": "u-1", "zeeg_id": RID + "\n"}})
    answer = client.post("/webhooks/std", data=body, headers=signed(settings, "std", body.encode()))
    assert answer.status_code == 422


def test_an_admin_mapping_path_with_a_newline_in_the_source_is_422(admin: FlaskClient) -> None:
    """The source becomes part of a Redis key: only the shape intake stores is taken."""
    answer = admin.get("/admin/mappings/userdb%0A/contacts/u-1")
    assert answer.status_code == 422


def test_a_sync_attribute_with_a_trailing_newline_is_refused(
    settings: Settings, conns: Connections
) -> None:
    """The attribute names a Redis key and a query parameter."""
    with pytest.raises(InvalidIdentifier):
        sync.reset(context(settings, conns), "userdb", "contacts", "email\n")
