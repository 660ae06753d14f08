"""The trust boundary for digits and text: ASCII digits only, no lone surrogates (SPEC 5.1a).

Python's isdigit() is true for "²" and "①", which float() and int() then refuse; and a
lone surrogate ("\\ud800" in JSON) passes a length check but cannot be encoded for Redis.
Each must be refused where it enters, as a 4xx (or a line error), never a 500.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.sources import standard, timestamped
from consumer.store import events, keys, mappings
from consumer.store.connection import Connections
from tests.helpers import (
    ARABIC,
    FULL_WIDTH,
    SENDER_ENV,
    STD_SECRET,
    SURROGATE,
    UNICODE_DIGITS,
    signed,
    stored_keys,
    userdb_body,
    webhook,
)

RID = "3f2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
# Digits Python calls digits but that are not ASCII: superscripts, circled, Arabic-Indic,
# full-width (the last two float() reads, silently, as numbers).
AUTH0 = {"Authorization": "Bearer " + SENDER_ENV["AUTH0_TOKEN"]}


def _line(external_id: str, **extra: Any) -> str:
    row = {"source": "userdb", "object": "contacts", "external_id": external_id, "record_id": RID}
    return json.dumps({**row, **extra})


# --- item 3: times and numbers in ASCII digits only ---------------------------------------


@pytest.mark.parametrize("value", UNICODE_DIGITS)
def test_a_webhook_time_in_unicode_digits_is_accepted_without_it(
    client: FlaskClient, settings: Settings, conns: Connections, value: str
) -> None:
    """The deletion is stored (never a 500 the sender retries for ever); the time is absent."""
    body = userdb_body("e-ud", "u-ud", created_at=value)
    answer = webhook(client, "userdb", body, signed(settings, "userdb", body))
    assert answer.status_code == 202, answer.get_json()
    event = events.load(conns.text, "userdb", "e-ud")
    assert event is not None and event.external_id == "u-ud"
    assert event.occurred_at is None


@pytest.mark.parametrize("value", UNICODE_DIGITS)
def test_an_admin_put_with_linked_at_in_unicode_digits_is_422(
    admin: FlaskClient, conns: Connections, value: str
) -> None:
    """linked_at in "²" is an invalid field, and nothing is linked."""
    answer = admin.put(
        "/admin/mappings/userdb/contacts/u-1", json={"record_id": RID, "linked_at": value}
    )
    assert (answer.status_code, answer.get_json()["error"]) == (422, "invalid_field")
    assert mappings.get(conns.text, "userdb", "contacts", "u-1") == []


def test_an_admin_bulk_line_with_linked_at_in_unicode_digits_is_a_line_error(
    admin: FlaskClient, conns: Connections
) -> None:
    """The bad line is reported by number; the lines around it are linked."""
    body = "\n".join([_line("b-1"), _line("b-2", linked_at="²"), _line("b-3")])
    answer = admin.post("/admin/mappings", data=body)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["linked"] == 2
    assert [e["line"] for e in answer.get_json()["errors"]] == [2]
    assert mappings.get(conns.text, "userdb", "contacts", "b-2") == []


@pytest.mark.parametrize("value", UNICODE_DIGITS)
def test_mappings_import_with_linked_at_in_unicode_digits_reports_the_line(
    cli: Any, tmp_path: Path, conns: Connections, value: str
) -> None:
    """mappings import: one line error, exit 1, no traceback; the good row is linked."""
    path = tmp_path / "m.csv"
    text = f"source,object,external_id,record_id,linked_at\nuserdb,contacts,i-1,{RID},{value}\n"
    path.write_text(text + f"userdb,contacts,i-2,{RID},\n", encoding="utf-8")
    result = cli("mappings", "import", str(path))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "line 2: linked_at" in result.output
    assert mappings.get(conns.text, "userdb", "contacts", "i-1") == []
    assert len(mappings.get(conns.text, "userdb", "contacts", "i-2")) == 1


@pytest.mark.parametrize("value", UNICODE_DIGITS)
def test_mappings_set_with_linked_at_in_unicode_digits_fails_with_one_line(
    cli: Any, conns: Connections, value: str
) -> None:
    """--linked-at "²" is refused with one line, nothing linked."""
    result = cli("mappings", "set", "userdb", "contacts", "s-1", RID, "--linked-at", value)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "--linked-at" in result.stderr
    assert mappings.get(conns.text, "userdb", "contacts", "s-1") == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("limit", v) for v in UNICODE_DIGITS]
    + [("since", v) for v in UNICODE_DIGITS]
    + [("until", v) for v in UNICODE_DIGITS]
    + [("since", "1h".translate(ARABIC)), ("since", "2d".translate(FULL_WIDTH))],
)
def test_admin_events_query_numbers_in_unicode_digits_are_400(
    admin: FlaskClient, name: str, value: str
) -> None:
    """GET /admin/events?limit=² (or since/until) is a 400 with a JSON error, not a 500."""
    answer = admin.get("/admin/events", query_string={name: value})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["error"] == "invalid_request" and answer.get_json()["message"]


@pytest.mark.parametrize("name", ["since", "until"])
def test_admin_audit_times_in_unicode_digits_are_400(admin: FlaskClient, name: str) -> None:
    """GET /admin/audit?since=<Arabic-Indic digits> is refused before the stream starts."""
    answer = admin.get("/admin/audit", query_string={name: "1733000000".translate(ARABIC)})
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("value", [*UNICODE_DIGITS, "9" * 5000])
def test_events_search_limit_in_unicode_digits_is_a_usage_error(cli: Any, value: str) -> None:
    """--limit takes ASCII digits only: exit 2 with one usage error, no traceback."""
    result = cli("events", "search", "--limit", value)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "--limit" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("option", ["--since", "--until"])
def test_cli_times_in_unicode_digits_fail_with_one_line(cli: Any, option: str) -> None:
    """events search / audit export --since ² exit 1 with one line, no traceback."""
    for command in (("events", "search"), ("audit", "export")):
        result = cli(*command, option, "1733000000".translate(ARABIC))
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert "time" in result.stderr


def _arabic(number: int) -> str:
    """number in Arabic-Indic digits, which int() reads as the same number."""
    return str(number).translate(ARABIC)


def test_a_standard_webhooks_timestamp_in_non_ascii_digits_is_401(
    client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """webhook-timestamp of now in Arabic-Indic digits is not an ASCII integer: refused."""
    body = json.dumps({"type": "user.deleted", "data": {"id": "u-1"}}).encode()
    now = int(time.time())
    signature = standard.sign(STD_SECRET, "msg_1", now, body)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "msg_1",
        "webhook-timestamp": _arabic(now),
        "webhook-signature": signature,
    }
    answer = client.post("/webhooks/std", data=body, headers=headers)
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert stored_keys(conns) == []


def test_a_stripe_signature_time_in_non_ascii_digits_is_401(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """Stripe-Signature: t=<now in Arabic-Indic digits>, validly signed, is still refused."""
    body = b'{"id": "evt_1", "type": "customer.deleted", "data": {"object": {"id": "cus_1"}}}'
    stamp = _arabic(int(time.time()))
    v1 = timestamped.digest(SENDER_ENV["STRIPE_SECRET"], stamp, body)
    headers = {"Content-Type": "application/json", "Stripe-Signature": f"t={stamp},v1={v1}"}
    answer = sender_client.post("/webhooks/stripe", data=body, headers=headers)
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert stored_keys(conns) == []


# --- item 4: no lone surrogates (nothing that UTF-8 cannot encode) -------------------------


@pytest.mark.parametrize("field", ["id", "external_id"])
def test_a_webhook_with_a_lone_surrogate_id_is_422_and_stores_nothing(
    client: FlaskClient, settings: Settings, conns: Connections, field: str
) -> None:
    """An event or external id of "\\ud800" is an invalid field, never a 500."""
    event_id, external_id = ("e-" + SURROGATE, "u-1") if field == "id" else ("e-1", SURROGATE)
    body = userdb_body(event_id, external_id)
    answer = webhook(client, "userdb", body, signed(settings, "userdb", body))
    assert (answer.status_code, answer.get_json()["error"]) == (422, "invalid_field")
    assert stored_keys(conns) == []


def test_a_batch_with_a_lone_surrogate_stores_the_good_events_and_reports_the_bad(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """Auth0 log stream: items 1 and 3 accepted (with jobs), item 2 invalid, in one 202."""
    logs = [
        {"log_id": f"L{i}", "data": {"type": "sdu", "user_id": user}}
        for i, user in enumerate(["auth0|1", "auth0|" + SURROGATE, "auth0|3"], start=1)
    ]
    headers = {"Content-Type": "application/json", **AUTH0}
    answer = sender_client.post("/webhooks/auth0logs", data=json.dumps(logs), headers=headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    results = answer.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "invalid", "accepted"]
    assert results[1]["error"] == "invalid_field"
    jobs = [list(job.args) for job in erasure_queue(conns.raw).jobs]
    assert jobs == [["auth0logs", "L1"], ["auth0logs", "L3"]]


def test_a_batch_with_a_lone_surrogate_event_id_stores_the_others(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """The bad item's id is not echoed; the items after it are still stored."""
    logs = [
        {"log_id": log_id, "data": {"type": "sdu", "user_id": f"auth0|{n}"}}
        for n, log_id in enumerate(["L1", "L" + SURROGATE, "L3"])
    ]
    headers = {"Content-Type": "application/json", **AUTH0}
    answer = sender_client.post("/webhooks/auth0logs", data=json.dumps(logs), headers=headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    statuses = [r["status"] for r in answer.get_json()["results"]]
    assert statuses == ["accepted", "invalid", "accepted"]
    assert events.load(conns.text, "auth0logs", "L3") is not None


def test_admin_erase_of_a_lone_surrogate_external_id_is_400(
    admin: FlaskClient, conns: Connections
) -> None:
    """POST /admin/erase {"external_id": "\\ud800"} is refused before anything is stored."""
    body = json.dumps({"source": "userdb", "external_id": SURROGATE, "reason": "r"})
    answer = admin.post("/admin/erase", data=body, content_type="application/json")
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["error"] == "invalid_request"
    assert stored_keys(conns) == []


@pytest.mark.parametrize("by", [SURROGATE, "ops" + SURROGATE])
def test_admin_by_with_a_lone_surrogate_is_400(
    admin: FlaskClient, conns: Connections, by: str
) -> None:
    """ "by" goes to the trail and the pause record: it must be encodable text."""
    body = json.dumps({"reason": "maintenance", "by": by})
    answer = admin.post("/admin/pause", data=body, content_type="application/json")
    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_request")
    assert not conns.text.exists(keys.PAUSE)


def test_an_admin_bulk_line_with_a_lone_surrogate_is_a_line_error(
    admin: FlaskClient, conns: Connections
) -> None:
    """The good lines before and after it are linked; the bad one is listed."""
    body = "\n".join([_line("b-1"), _line("b-" + SURROGATE), _line("b-3")])
    answer = admin.post("/admin/mappings", data=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["linked"] == 2
    assert [e["line"] for e in answer.get_json()["errors"]] == [2]
    assert len(mappings.get(conns.text, "userdb", "contacts", "b-3")) == 1


def test_mappings_import_with_a_lone_surrogate_links_the_other_lines(
    cli: Any, tmp_path: Path, conns: Connections
) -> None:
    """JSON lines can spell a surrogate as an escape: that line is reported, the rest linked."""
    path = tmp_path / "m.jsonl"
    lines = [_line("j-1"), _line("j-" + SURROGATE), _line("j-3")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("mappings", "import", str(path))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "line 2: external id" in result.output
    assert len(mappings.get(conns.text, "userdb", "contacts", "j-1")) == 1
    assert len(mappings.get(conns.text, "userdb", "contacts", "j-3")) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("erase", "\udcff", "--source", "userdb"),
        ("pause", "--reason", "r", "--by", "\udcff"),
        ("requeue", "--all", "--reason", "r", "--by", "ops\udcff"),
        ("events", "show", "userdb", "\udcff"),
        ("mappings", "get", "userdb", "contacts", "\udcff"),
        ("mappings", "set", "userdb", "contacts", "\udcff", RID),
    ],
)
def test_cli_arguments_that_utf8_cannot_encode_fail_with_one_line(
    cli: Any, conns: Connections, args: tuple[str, ...]
) -> None:
    """A non-UTF-8 byte in an argument arrives as a lone surrogate: one line, exit 1."""
    result = cli(*args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.stderr.startswith("zeeg-consumer: ") and result.stderr.count("\n") == 1
    assert stored_keys(conns) == []


def test_mappings_import_of_a_file_with_bytes_that_are_not_utf8_reports_those_lines(
    cli: Any, tmp_path: Path, conns: Connections
) -> None:
    """A Latin-1 byte in one row makes that row an error; the rows around it are linked."""
    path = tmp_path / "m.csv"
    rows = [f"userdb,contacts,{x},{RID}\n".encode() for x in ("k-1", "k-\xff", "k-3")]
    rows[1] = rows[1].replace("k-\xff".encode(), b"k-\xff")
    path.write_bytes(b"source,object,external_id,record_id\n" + b"".join(rows))
    result = cli("mappings", "import", str(path))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "line 3: external id" in result.output
    assert len(mappings.get(conns.text, "userdb", "contacts", "k-1")) == 1
    assert len(mappings.get(conns.text, "userdb", "contacts", "k-3")) == 1


def test_erase_csv_with_bytes_that_are_not_utf8_fails_with_one_line(
    cli: Any, tmp_path: Path, conns: Connections
) -> None:
    """erase --csv: the bad row is named, nothing is accepted (as for any bad row)."""
    path = tmp_path / "ids.csv"
    path.write_bytes(b"external_id\nu-1\nu-\xff\n")
    result = cli("erase", "--source", "userdb", "--csv", str(path))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.stderr == "zeeg-consumer: CSV row 3: not a valid external id\n"
    assert stored_keys(conns) == []


# --- readers of hand-edited stored values, and C1 controls ------------------------------


@pytest.mark.parametrize("stored", ["garbage", "nan", "inf", ""])
def test_a_hand_edited_linked_at_reads_as_unknown_age(
    cli: Any, conns: Connections, stored: str
) -> None:
    """A stored linked_at that is not a time is unknown age (0): get and export never crash."""
    conns.text.hset(keys.mapping("userdb", "contacts", "h-1"), RID, stored)
    (found,) = mappings.get(conns.text, "userdb", "contacts", "h-1")
    assert found.linked_at == 0.0
    result = cli("mappings", "export", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["record_id"] == RID


def test_stored_bytes_that_are_not_utf8_read_as_replacement_characters(
    cli: Any, admin: FlaskClient, settings: Settings, client: FlaskClient, conns: Connections
) -> None:
    """A stored field holding bytes that are not UTF-8 (a hand edit, a restore from a foreign
    tool) is read with U+FFFD in their place: events show and the admin API answer, not crash."""
    body = userdb_body("e-bytes", "u-bytes")
    assert webhook(client, "userdb", body, signed(settings, "userdb", body)).status_code == 202
    conns.raw.hset(keys.event("userdb", "e-bytes"), "last_error", b"bad \xff\xfe bytes")
    result = cli("events", "show", "userdb", "e-bytes", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["last_error"] == "bad \ufffd\ufffd bytes"
    answer = admin.get("/admin/events/userdb/e-bytes")
    assert answer.status_code == 200 and answer.get_json()["last_error"] == "bad \ufffd\ufffd bytes"
