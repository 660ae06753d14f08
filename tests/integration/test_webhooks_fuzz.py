"""Property: whatever headers and body arrive, no scheme or preset ever answers a 5xx."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer import sources
from tests.helpers import sender_settings, webhook

SENDERS = sender_settings()
NAMES = sorted(SENDERS.sources)
SIGNATURE_HEADERS = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "Stripe-Signature",
    "WorkOS-Signature",
    "Authorization",
    "X-Keycloak-Signature",
    "X-Hub-Signature-256",
    "X-GitHub-Delivery",
]
CONTENT_TYPES = [
    "application/json",
    "application/x-ndjson",
    "text/plain",
    "application/json; charset=latin-1",
]

latin1 = st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f")
numbers = st.integers(min_value=-(10**450), max_value=10**450).map(str)
header_values = (
    st.text(alphabet=latin1, max_size=120)
    | numbers
    | st.builds("t={}, v1={}".format, numbers, st.text("0123456789abcdef", max_size=64))
    | st.builds("v1,{} v1,{}".format, st.text(latin1, max_size=10), st.text(latin1, max_size=44))
)
header_names = st.sampled_from(SIGNATURE_HEADERS) | st.from_regex(
    r"X-[A-Za-z0-9-]{1,20}", fullmatch=True
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(
    headers=st.dictionaries(header_names, header_values, max_size=6),
    body=st.binary(max_size=600) | json_values.map(lambda v: json.dumps(v).encode()),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_arbitrary_headers_and_bodies_never_get_a_5xx(
    sender_client: FlaskClient, name: str, headers: dict[str, str], body: bytes, content_type: str
) -> None:
    """Unsigned noise: refused with a 4xx (or ignored), never a server error."""
    answer = webhook(sender_client, name, body, {**headers, "Content-Type": content_type})
    assert answer.status_code < 500, answer.json


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(
    payload=json_values
    | st.dictionaries(st.sampled_from(["id", "type", "data", "uid"]), json_values),
    raw=st.none() | st.binary(max_size=300),
    msg_id=header_values,
)
def test_correctly_signed_arbitrary_bodies_never_get_a_5xx(
    sender_client: FlaskClient, name: str, payload: Any, raw: bytes | None, msg_id: str
) -> None:
    """Bodies that pass verification reach the parser: any shape is a 2xx or 4xx."""
    src = SENDERS.sources[name]
    body = raw if raw is not None else json.dumps(payload).encode()
    signed = sources.sign_headers(src, body, msg_id or "m", int(time.time()))
    answer = webhook(sender_client, name, body, {**signed, "Content-Type": "application/json"})
    assert answer.status_code < 500, answer.json
