"""Property: whatever headers and body arrive, no scheme or preset ever answers a 5xx.

Three kinds of case per source: unsigned noise (arbitrary headers and bodies), correctly
signed arbitrary JSON, and correctly signed bodies shaped like the sender's with odd values
in exactly the fields the source reads (so the parser is exercised past the signature).
Every case also checks the log for tracebacks and, for refused requests, that Redis holds
nothing new. FUZZ_PROFILE=chaos (make chaos) runs 40 times as many cases.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from consumer import sources
from consumer.errors import ConfigError
from consumer.settings import SourceConfig
from consumer.settings.presets import PRESETS
from consumer.sources import standard
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.fuzzing import count, fuzz, no_tracebacks, odd_numbers, odd_text, report
from tests.helpers import ADMIN_TOKEN, make_settings, sender_settings, stored_keys

# stdhooks also reads record ids from the payload, so odd record ids reach the parser; the
# admin API is on so that each accepted event is read back (a stored value must not break
# the readers).
PAYLOAD_TARGETS = [{"object": "contacts", "resolve": ["payload:data.zeeg_ids", "store"]}]
SENDERS = sender_settings(
    env={"CONSUMER_ADMIN_TOKEN": ADMIN_TOKEN}, stdhooks={"targets": PAYLOAD_TARGETS}
)
NAMES = sorted(SENDERS.sources)
SIGNED = [n for n in NAMES if SENDERS.sources[n].scheme != "none"]
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
    | st.builds("t={},v1={}".format, numbers, st.text(latin1, max_size=64))
    | st.builds("v1,{} v1,{}".format, st.text(latin1, max_size=10), st.text(latin1, max_size=44))
    | st.builds("Bearer {}".format, st.text(latin1, max_size=40))
    | st.sampled_from(["Bearer", "Bearer ", "bearer  x", "sha256=", "v1,", "t=,v1="])
)
header_names = st.sampled_from(SIGNATURE_HEADERS) | st.from_regex(
    r"X-[A-Za-z0-9-]{1,20}", fullmatch=True
)
# Times: digits of every script, signs, exponents, ISO strings at and past the edges.
odd_times = (
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=12)
    | st.builds(
        "-{}".format, st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=8)
    )
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(10**25), max_value=10**25)
    | st.integers(min_value=-(10**25), max_value=10**25).map(str)
    | st.sampled_from(
        [
            "1e400",
            "-1e400",
            "1e20",
            "-1e15",
            "253402300800",
            "253402300800000",
            "-62135596801",
            "10000-01-01T00:00:00+00:00",
            "0001-01-01T00:00:00+00:00",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "2024-01-01T00:00:00\u0660Z",
            "\u0662\u0660\u0662\u0664-01-01T00:00:00Z",
            "\u00b2\u00b3",
            "1_000",
            " 12 ",
            "0x10",
        ]
    )
)
plain_ids = st.from_regex(r"[A-Za-z0-9_-]{1,24}", fullmatch=True)
# Record ids: well-formed, near misses, and many of them.
uuids = st.uuids().map(str)
odd_record_ids = (
    uuids
    | odd_text
    | st.lists(uuids, min_size=0, max_size=5)
    | st.lists(uuids | odd_text, max_size=5)
    | st.integers(1, 5000).map(lambda n: [f"00000000-0000-4000-8000-{i:012d}" for i in range(n)])
)
json_values = st.recursive(
    st.none() | st.booleans() | odd_numbers | odd_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
field_values = odd_text | odd_numbers | json_values


@pytest.fixture(scope="module", autouse=True)
def _tally(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report(request.config)


@pytest.fixture
def fuzz_client(conns: Connections) -> FlaskClient:
    """The app with one source per sender preset (see SENDERS) on the test Redis."""
    return create_app(SENDERS, redis=conns).test_client()


def _read_back(client: FlaskClient, name: str, answer: Any) -> None:
    """Each event an answer accepted can be shown and searched: what was stored is readable."""
    body = answer.get_json()
    results = body.get("results", [body])
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for r in results:
        if r.get("status") != "accepted":
            continue
        event_id = quote(r["event_id"].encode("utf-8", "surrogatepass"), safe="")
        shown = client.get(f"/admin/events/{name}/{event_id}", headers=auth)
        assert shown.status_code == 200, (r, shown.get_json())
    listed = client.get(f"/admin/events?source={name}&limit=5", headers=auth)
    assert listed.status_code == 200, listed.get_json()


def _post(client: FlaskClient, name: str, body: bytes, headers: dict[str, str]) -> Any:
    answer = client.post(f"/webhooks/{name}", data=body, headers=headers)
    count(answer.status_code)
    return answer


def _place(path: str, value: Any, into: Any) -> Any:
    """into with value set at the dotted path (a numeric step makes a list)."""
    step, _, rest = path.partition(".")
    if step.isdigit():
        node = list(into) if isinstance(into, list) else []
        node.extend([{}] * (int(step) + 1 - len(node)))
        node[int(step)] = _place(rest, value, node[int(step)]) if rest else value
        return node
    node = dict(into) if isinstance(into, dict) else {}
    node[step] = _place(rest, value, node.get(step)) if rest else value
    return node


def _read_paths(src: SourceConfig) -> list[tuple[str, st.SearchStrategy[Any]]]:
    """The body paths the source reads besides its event type, each with what to put there."""
    # Mostly well-formed ids, so that the odd time or record id beside them is what is tested.
    ids = plain_ids | plain_ids | field_values
    paths = [(src.event_id, ids), (src.external_id, ids), (src.occurred_at or "", odd_times)]
    paths += [
        (r[len("payload:") :], odd_record_ids)
        for t in src.targets
        for r in t.resolve
        if r.startswith("payload:")
    ]
    return [(p, v) for p, v in paths if p and not p.startswith(("header:", "digest:"))]


def _wrap(src: SourceConfig, event: Any, lines: bool) -> bytes:
    """The event in the source's envelope: a batch array, JSON lines, or data.events."""
    batch = src.options.get("batch")
    if batch == "array":
        return (
            b"\n".join(json.dumps(e).encode() for e in [event, event])
            if lines
            else (json.dumps([event]).encode())
        )
    if isinstance(batch, str) and batch:
        return json.dumps(_place(batch, [event], {})).encode()
    return json.dumps(event).encode()


@st.composite
def shaped_bodies(draw: st.DrawFn, src: SourceConfig) -> tuple[bytes, str]:
    """A body of src's shape: a wanted event type, odd values where the source reads."""
    event: Any = _place(src.event_type, draw(st.sampled_from(sorted(src.event_types))), {})
    for path, values in _read_paths(src):
        if draw(st.integers(0, 4)):  # each read field present four times in five
            event = _place(path, draw(values), event)
    lines = src.options.get("batch") == "array" and draw(st.booleans())
    return _wrap(src, event, lines), "application/x-ndjson" if lines else "application/json"


def _svix(headers: dict[str, str], stray_id: str | None) -> dict[str, str]:
    """The same signature under svix-* names, maybe beside an unsigned webhook-id."""
    renamed = {k.replace("webhook-", "svix-"): v for k, v in headers.items()}
    return renamed if stray_id is None else {**renamed, "webhook-id": stray_id}


def _check(
    answer: Any, before: list[str], conns: Connections, caplog: pytest.LogCaptureFixture, case: Any
) -> None:
    """No 5xx, no traceback, and nothing stored unless the request was accepted."""
    assert answer.status_code < 500, (case, answer.get_json())
    no_tracebacks(caplog, case)
    if answer.status_code >= 400:
        assert stored_keys(conns) == before, (case, answer.status_code)


@pytest.mark.parametrize("name", NAMES)
@fuzz(20)
@given(
    headers=st.dictionaries(header_names, header_values, max_size=6),
    body=st.binary(max_size=600) | json_values.map(lambda v: json.dumps(v).encode()),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_arbitrary_headers_and_bodies_never_get_a_5xx(
    fuzz_client: FlaskClient,
    conns: Connections,
    caplog: pytest.LogCaptureFixture,
    name: str,
    headers: dict[str, str],
    body: bytes,
    content_type: str,
) -> None:
    """Unsigned noise: refused with a 4xx (or ignored), never a server error, never stored."""
    before = stored_keys(conns)
    answer = _post(fuzz_client, name, body, {**headers, "Content-Type": content_type})
    _check(answer, before, conns, caplog, (headers, body))
    if name in SIGNED:
        assert answer.status_code >= 400, (headers, body)


@pytest.mark.parametrize("name", NAMES)
@fuzz(15)
@given(
    payload=json_values
    | st.dictionaries(st.sampled_from(["id", "type", "data", "uid"]), json_values),
    raw=st.none() | st.binary(max_size=300),
    msg_id=header_values,
)
def test_correctly_signed_arbitrary_bodies_never_get_a_5xx(
    fuzz_client: FlaskClient,
    conns: Connections,
    caplog: pytest.LogCaptureFixture,
    name: str,
    payload: Any,
    raw: bytes | None,
    msg_id: str,
) -> None:
    """Bodies that pass verification reach the parser: any shape is a 2xx or 4xx."""
    src = SENDERS.sources[name]
    body = raw if raw is not None else json.dumps(payload).encode()
    signed = sources.sign_headers(src, body, msg_id or "m", int(time.time()))
    before = stored_keys(conns)
    answer = _post(fuzz_client, name, body, {**signed, "Content-Type": "application/json"})
    _check(answer, before, conns, caplog, (msg_id, body))


@pytest.mark.parametrize("name", NAMES)
@fuzz(25)
@given(data=st.data(), msg_id=odd_text.filter(bool))
def test_signed_sender_shaped_bodies_with_odd_fields_never_get_a_5xx(
    fuzz_client: FlaskClient,
    conns: Connections,
    caplog: pytest.LogCaptureFixture,
    name: str,
    data: st.DataObject,
    msg_id: str,
) -> None:
    """The parser past the signature: odd ids, times and record ids are a 4xx, never a 500."""
    src = SENDERS.sources[name]
    body, content_type = data.draw(shaped_bodies(src))
    # A header value carries no CR/LF and only latin-1 (the test client refuses others).
    header_id = "".join(c if " " <= c <= "\xff" else "?" for c in msg_id)
    signed = sources.sign_headers(src, body, header_id, int(time.time()))
    before = stored_keys(conns)
    answer = _post(fuzz_client, name, body, {**signed, "Content-Type": content_type})
    _check(answer, before, conns, caplog, (header_id, body))
    if answer.status_code < 300:
        _read_back(fuzz_client, name, answer)
        no_tracebacks(caplog, (header_id, body))


@pytest.mark.parametrize(
    "name", [n for n in NAMES if SENDERS.sources[n].scheme == "standard-webhooks"]
)
@fuzz(25)
@given(
    external_id=st.from_regex(r"user_[A-Za-z0-9]{1,24}", fullmatch=True),
    msg_id=st.from_regex(r"msg_[A-Za-z0-9]{1,24}", fullmatch=True),
    stray=st.none() | st.from_regex(r"msg_[A-Za-z0-9]{1,24}", fullmatch=True),
)
def test_svix_signed_requests_take_the_event_id_from_the_signed_headers(
    fuzz_client: FlaskClient,
    conns: Connections,
    caplog: pytest.LogCaptureFixture,
    name: str,
    external_id: str,
    msg_id: str,
    stray: str | None,
) -> None:
    """Signed with svix-*: an unsigned webhook-id beside them never becomes the event id."""
    src = SENDERS.sources[name]
    msg_id += uuid.uuid4().hex  # each example a new delivery, never a duplicate of the last
    body = json.dumps({"type": "user.deleted", "data": {"id": external_id}}).encode()
    stamp = int(time.time())
    signed = {"webhook-id": msg_id, "webhook-timestamp": str(stamp)}
    signed["webhook-signature"] = standard.sign(src.secrets[0], msg_id, stamp, body)
    headers = {**_svix(signed, stray), "Content-Type": "application/json"}
    before = stored_keys(conns)
    answer = _post(fuzz_client, name, body, headers)
    _check(answer, before, conns, caplog, (headers, body))
    assert answer.status_code == 202, (headers, answer.get_json())
    if src.event_id.startswith("header:"):
        assert answer.get_json()["event_id"] == msg_id, (headers, answer.get_json())


WHOLE_SECRET_PRESETS = ["clerk", "stripe", "workos", "auth0-event-stream", "keycloak"]


def _event(src: SourceConfig) -> bytes:
    """A well-formed deletion event for src with fresh ids."""
    event: Any = _place(src.event_type, sorted(src.event_types)[0], {})
    prefix = str(src.options.get("external_id_prefix", ""))
    for path, value in ((src.event_id, "evt_"), (src.external_id, prefix + "id_")):
        if not path.startswith(("header:", "digest:")):
            event = _place(path, value + uuid.uuid4().hex, event)
    return json.dumps(event).encode()


@pytest.mark.parametrize("preset", WHOLE_SECRET_PRESETS)
@fuzz(8)
@given(
    pieces=st.lists(st.from_regex(r"[A-Za-z0-9_]{16,24}", fullmatch=True), min_size=2, max_size=3),
    separator=st.sampled_from([" ", ",", ", ", "  "]),
    which=st.integers(0, 2),
)
def test_only_the_whole_secret_verifies(
    conns: Connections,
    caplog: pytest.LogCaptureFixture,
    preset: str,
    pieces: list[str],
    separator: str,
    which: int,
) -> None:
    """A secret with spaces or commas is one secret: a piece of it signs nothing.

    Schemes whose secrets never hold a separator refuse such a variable at start instead (the
    old rotation syntax), naming the variable and never the value.
    """
    whole = separator.join(pieces)
    table = {
        "src": {"preset": preset, "secret_env": "WHOLE_SECRET", "targets": [{"object": "contacts"}]}
    }
    if PRESETS[preset]["scheme"] in ("standard-webhooks", "stripe", "workos"):
        with pytest.raises(ConfigError, match="WHOLE_SECRET holds whitespace or a comma") as e:
            make_settings(sources_toml=table, env={"WHOLE_SECRET": whole})
        assert not any(piece in str(e.value) for piece in pieces)
        return
    settings = make_settings(sources_toml=table, env={"WHOLE_SECRET": whole})
    client = create_app(settings, redis=conns).test_client()
    src = settings.sources["src"]
    for secret, verifies in ((pieces[which % len(pieces)], False), (whole, True)):
        body = _event(src)
        signer = dataclasses.replace(src, secrets=(secret,))
        headers = sources.sign_headers(signer, body, f"msg_{uuid.uuid4().hex}", int(time.time()))
        before = stored_keys(conns)
        answer = _post(client, "src", body, {**headers, "Content-Type": "application/json"})
        _check(answer, before, conns, caplog, (preset, secret))
        assert (answer.status_code != 401) == verifies, (preset, secret, answer.get_json())
