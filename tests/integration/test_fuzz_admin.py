"""Property: no admin input (JSON body, query string, path) ever gets a 5xx or a traceback.

With the admin token every /admin route is fuzzed with bodies built from its own field names
(plus unknown ones) holding arbitrary JSON; a refused call (4xx) leaves Redis as it was.
Without the token every call is a 401 and stores nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from consumer.ops.events import FILTER_FIELDS
from consumer.settings import Settings
from consumer.store.connection import Connections
from tests.fuzzing import count, fuzz, no_tracebacks, odd_numbers, odd_text, report
from tests.helpers import HMAC_SECRET, stored_keys, userdb_body

RID = str(uuid.uuid4())
json_values = st.recursive(
    st.none() | st.booleans() | odd_numbers | odd_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3),
    max_leaves=12,
)
times = st.sampled_from(["2h", "30m", "7d", "0", "-1", "1e400", "nan", "2024-01-01T00:00:00Z"])
plausible = st.sampled_from(["userdb", "std", "contacts", RID, "u-1", "contact.deleted"])
# Python refuses int() of a string past 4,300 digits (ValueError, not a number check).
digits = st.sampled_from(["0", "100", "007", "9" * 5000, "\u00b2", "\u0661"]) | st.integers(
    0, 10**6
).map(str)
reasons = st.sampled_from(["gdpr request", "a\nforged: log line", "\x1b[2Jwiped", "nul\x00"])
values = json_values | times | plausible | reasons | st.lists(plausible, max_size=3)
# A reason is written to trails and logs and shown in terminals: control characters in it
# (tab aside) would forge lines or escape sequences, so a call carrying one is refused.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# (method, path, the body fields the route reads or None for a query-string route)
BODY_ROUTES = {
    "/admin/requeue": ("job_ids", "all", "reason", "by"),
    "/admin/replay": (*FILTER_FIELDS, "dry_run", "reason", "by"),
    "/admin/erase": ("source", "external_id", "reason", "by"),
    "/admin/pause": ("reason", "by"),
    "/admin/resume": ("by",),
}
QUERY_ROUTES = {
    "/admin/status": (),
    "/admin/events": (*FILTER_FIELDS, "limit"),
    "/admin/failed": (),
    "/admin/audit": ("since", "until", "format"),
}
segment = odd_text | plausible | st.sampled_from(["..", "%2F", "a/b", "%00", "x" * 300])


@pytest.fixture(scope="module", autouse=True)
def _tally(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report(request.config)


@pytest.fixture
def seeded(admin: FlaskClient, settings: Settings) -> FlaskClient:
    """The admin client with one stored event, so searches and exports have rows to show."""
    from tests.helpers import signed

    body = userdb_body("evt-seed", "u-1")
    assert HMAC_SECRET  # the userdb source's secret is set by make_settings
    answer = admin.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 202
    return admin


def _bodies(fields: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """A JSON object of the route's fields (and sometimes a stray one), or any JSON at all."""
    names = st.sampled_from(fields) if fields else st.nothing()
    objects = st.dictionaries(names | st.just("unknown_field"), values, max_size=len(fields) + 1)
    return objects | json_values


def _q(text: str, safe: str = "") -> str:
    """text percent-encoded; a lone surrogate becomes the invalid UTF-8 an attacker can send."""
    return quote(text.encode("utf-8", "surrogatepass"), safe=safe)


def _query(fields: tuple[str, ...]) -> st.SearchStrategy[str]:
    names = st.sampled_from(fields) if fields else st.just("x")
    anything = odd_text | times | plausible | digits
    pair = names.flatmap(lambda n: st.tuples(st.just(n), digits if n == "limit" else anything))
    pairs = st.lists(pair, max_size=4)
    return pairs.map(lambda ps: "&".join(f"{_q(k)}={_q(v)}" for k, v in ps))


def _call(client: FlaskClient, method: str, path: str, **kwargs: Any) -> Any:
    answer = client.open(path, method=method, **kwargs)
    answer.get_data()  # streamed answers (the audit export) fail while read, not before
    count(answer.status_code)
    return answer


def _check(
    answer: Any, before: list[str], conns: Connections, caplog: pytest.LogCaptureFixture, case: Any
) -> None:
    assert answer.status_code < 500, (case, answer.get_data()[:300])
    no_tracebacks(caplog, case)
    if answer.status_code >= 400:
        assert stored_keys(conns) == before, (case, answer.status_code)
    if answer.mimetype == "application/json":
        problem = answer.get_json()
        if answer.status_code >= 400:
            assert isinstance(problem.get("error"), str), (case, problem)
            assert isinstance(problem.get("message"), str), (case, problem)


@fuzz(150)
@given(data=st.data(), route=st.sampled_from(sorted(BODY_ROUTES)), raw=st.booleans())
def test_admin_json_bodies_never_get_a_5xx(
    seeded: FlaskClient,
    conns: Connections,
    caplog: pytest.LogCaptureFixture,
    data: st.DataObject,
    route: str,
    raw: bool,
) -> None:
    """Every POST route with objects of its own fields holding arbitrary values."""
    body = (
        data.draw(st.binary(max_size=200))
        if raw
        else json.dumps(data.draw(_bodies(BODY_ROUTES[route]))).encode()
    )
    before = stored_keys(conns)
    answer = _call(seeded, "POST", route, data=body, content_type="application/json")
    _check(answer, before, conns, caplog, (route, body))
    sent = json.loads(body) if not raw else None
    reason = sent.get("reason") if isinstance(sent, dict) else None
    if isinstance(reason, str) and CONTROL.search(reason.strip()):
        assert answer.status_code >= 400, (route, sent, answer.get_json())


@fuzz(100)
@given(route=st.sampled_from(sorted(QUERY_ROUTES)), data=st.data())
def test_admin_query_strings_never_get_a_5xx(
    seeded: FlaskClient,
    conns: Connections,
    caplog: pytest.LogCaptureFixture,
    route: str,
    data: st.DataObject,
) -> None:
    """Every GET route with query strings of its own parameters holding odd values."""
    query = data.draw(_query(QUERY_ROUTES[route]))
    before = stored_keys(conns)
    answer = _call(seeded, "GET", f"{route}?{query}")
    _check(answer, before, conns, caplog, (route, query))


@fuzz(150)
@given(
    method=st.sampled_from(["GET", "PUT", "DELETE"]),
    parts=st.tuples(segment, segment, segment),
    body=_bodies(("record_id", "linked_at")),
    record_id=st.none() | odd_text | plausible,
)
def test_admin_mapping_and_lookup_paths_never_get_a_5xx(
    seeded: FlaskClient,
    conns: Connections,
    caplog: pytest.LogCaptureFixture,
    method: str,
    parts: tuple[str, str, str],
    body: Any,
    record_id: str | None,
) -> None:
    """Mappings by path (with bodies and ?record_id=), events and failed jobs by id."""
    quoted = [_q(p) for p in parts]
    query = "" if record_id is None else f"?record_id={_q(record_id)}"
    paths = [
        (method, "/admin/mappings/{}/{}/{}".format(*quoted) + query),
        ("GET", "/admin/events/{}/{}".format(*quoted[:2])),
        ("GET", f"/admin/failed/{quoted[0]}"),
    ]
    for verb, path in paths:
        before = stored_keys(conns)
        answer = _call(seeded, verb, path, data=json.dumps(body), content_type="application/json")
        _check(answer, before, conns, caplog, (verb, path, body))


@fuzz(60)
@given(
    rows=st.lists(
        st.dictionaries(
            st.sampled_from(["source", "object", "external_id", "record_id", "linked_at"]),
            values,
        )
        | json_values,
        max_size=4,
    ),
    separator=st.sampled_from(["\n", "\r\n", "\u2028", "\x85"]),
)
def test_admin_bulk_mappings_never_get_a_5xx(
    seeded: FlaskClient,
    conns: Connections,
    caplog: pytest.LogCaptureFixture,
    rows: list[Any],
    separator: str,
) -> None:
    """POST /admin/mappings with JSON lines of arbitrary rows and line separators."""
    body = separator.join(json.dumps(r, ensure_ascii=False) for r in rows).encode(
        "utf-8", "surrogatepass"
    )
    before = stored_keys(conns)
    answer = _call(
        seeded, "POST", "/admin/mappings", data=body, content_type="application/x-ndjson"
    )
    _check(answer, before, conns, caplog, body)


# The status page (web/page.py) takes no Bearer token: its login form, and 403 for a POST
# without its CSRF token (tests/integration/test_status_page.py).
PAGE_WITHOUT_SESSION = {
    ("GET", "/admin/"): 200,
    **{("POST", f"/admin/{p}"): 403 for p in ("login", "logout", "page/resume", "page/requeue")},
}


@fuzz(60)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    path=st.sampled_from(
        [
            *BODY_ROUTES,
            *QUERY_ROUTES,
            "/admin/mappings",
            "/admin",
            "/admin/x",
            "/admin/",
            "/admin/login",
        ]
    )
    | segment.map(lambda s: "/admin/" + _q(s, safe="/")),
    token=st.none() | st.sampled_from(["Bearer", "Bearer wrong", "admin-test-token", ""]),
)
def test_without_the_token_every_admin_call_is_a_401_and_stores_nothing(
    admin_app: Flask,
    conns: Connections,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    token: str | None,
) -> None:
    """No token, a bare scheme or the token without "Bearer": 401, whatever the route (the status
    page's form and its CSRF refusal excepted)."""
    headers = {} if token is None else {"Authorization": token}
    before = stored_keys(conns)
    answer = _call(admin_app.test_client(), method, path, headers=headers, data=b'{"reason":"x"}')
    expected = PAGE_WITHOUT_SESSION.get((method, path), 401)
    assert answer.status_code == expected, (method, path, token)
    _check(answer, before, conns, caplog, (method, path, token))


# "²".isdigit() is true but int("²") fails: the other way to the same ValueError.
@pytest.mark.parametrize("limit", ["9" * 5000, "1" + "0" * 4300, "\u00b2", "1\u00b3"])
def test_a_limit_of_thousands_of_digits_is_a_400(
    seeded: FlaskClient, caplog: pytest.LogCaptureFixture, limit: str
) -> None:
    """A limit int() cannot read (past 4,300 digits, superscripts) is a 400, not a 500."""
    answer = _call(seeded, "GET", f"/admin/events?limit={limit}")
    assert answer.status_code == 400, answer.get_data()[:200]
    assert answer.get_json()["error"] == "invalid_request"
    no_tracebacks(caplog, limit[:10])


REASON_BODIES = {
    "/admin/pause": {},
    "/admin/requeue": {"all": True},
    "/admin/replay": {"source": "userdb"},
    "/admin/erase": {"source": "userdb", "external_id": "u-reason"},
}


@fuzz(30)
@given(
    route=st.sampled_from(sorted(REASON_BODIES)),
    reason=st.builds(
        "{}{}{}".format,
        st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1, max_size=10),
        st.sampled_from([c for c in map(chr, [*range(32), 127]) if c != "\t"]),
        st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1, max_size=10),
    ),
)
def test_a_reason_with_control_characters_is_refused(
    seeded: FlaskClient,
    conns: Connections,
    caplog: pytest.LogCaptureFixture,
    route: str,
    reason: str,
) -> None:
    """A newline or escape in a reason would forge trail, log and terminal lines: a 400."""
    body = {**REASON_BODIES[route], "reason": reason}
    before = stored_keys(conns)
    answer = _call(seeded, "POST", route, json=body)
    assert answer.status_code == 400, (route, reason, answer.get_json())
    _check(answer, before, conns, caplog, (route, reason))
