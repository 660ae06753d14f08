"""Text at the trust boundary: line splitting, record-id caps, free text, private Redis files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from consumer.errors import ConfigError, InvalidIdentifier
from consumer.models import check_external_id
from consumer.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store.connection import Connections
from consumer.store.queue import erasure_queue
from consumer.web import create_app
from tests.helpers import SENDER_ENV, drain, make_settings, signed, stored_keys

AUTH0 = {"Authorization": "Bearer " + SENDER_ENV["AUTH0_TOKEN"], "Content-Type": "application/json"}
RID = "3f2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
RID3 = "0c2b8c1e-1a2b-4c3d-8e9f-0123456789ab"

# The characters str.splitlines() breaks on that may sit raw in a JSON string (the others it
# breaks on, \x0b \x0c \x1c-\x1e, are control characters JSON must escape).
LINE_BREAKERS = ["\x85", "\u2028", "\u2029"]


def _log(log_id: str, user_id: str, user_name: str = "someone") -> dict[str, Any]:
    data = {"date": "2023-11-01T10:00:00.000Z", "type": "sdu", "user_id": user_id}
    return {"log_id": log_id, "data": {**data, "user_name": user_name}}


def _jobs(conns: Connections) -> list[list[Any]]:
    return [list(job.args) for job in erasure_queue(conns.raw).jobs]


# --- item 6: JSON lines are split on \n (and \r\n) only --------------------------------


@pytest.mark.parametrize("char", LINE_BREAKERS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKERS])
@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_json_lines_keep_a_line_whose_string_holds_a_unicode_line_break(
    sender_client: FlaskClient, conns: Connections, char: str, eol: str
) -> None:
    """An Auth0 log whose user_name holds U+2028 (or kin) is one event, not two broken lines."""
    lines = [
        json.dumps(_log("L1", "auth0|1", f"Ann{char}Lee"), ensure_ascii=False),
        json.dumps(_log("L2", "auth0|2"), ensure_ascii=False),
    ]
    body = eol.join(lines).encode()
    assert char.encode() in body
    answer = sender_client.post("/webhooks/auth0logs", data=body, headers=AUTH0)
    assert answer.status_code == 202, answer.json
    assert [r["status"] for r in answer.json["results"]] == ["accepted", "accepted"]
    assert _jobs(conns) == [["auth0logs", "L1"], ["auth0logs", "L2"]]


def _bulk_line(external_id: str, record_id: str = RID) -> str:
    row = {"source": "userdb", "object": "contacts", "external_id": external_id}
    return json.dumps({**row, "record_id": record_id}, ensure_ascii=False)


@pytest.mark.parametrize("char", LINE_BREAKERS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKERS])
def test_bulk_mappings_number_lines_by_newline_only(admin: FlaskClient, char: str) -> None:
    """A line break inside an external id neither splits its line nor shifts later numbers."""
    odd = f"a{char}b"
    body = "\n".join([_bulk_line(odd), _bulk_line("b-2", "not-a-uuid"), _bulk_line("c-3", RID3)])
    answer = admin.post("/admin/mappings", data=body.encode())
    assert answer.status_code == 200, answer.json
    report = answer.json
    try:
        check_external_id(odd)
        expected = [2]
    except InvalidIdentifier:
        expected = [1, 2]
    assert [e["line"] for e in report["errors"]] == expected
    assert report["linked"] == 3 - len(expected)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("char", LINE_BREAKERS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKERS])
def test_mappings_import_file_numbers_lines_by_newline_only(
    cli: Any, conns: Connections, tmp_path: Path, fmt: str, char: str
) -> None:
    """The CLI reads import files with universal newlines: a U+2028 in a field is no break."""
    odd = f"a{char}b"
    if fmt == "jsonl":
        rows = [_bulk_line(odd), _bulk_line("b-2", "not-a-uuid"), _bulk_line("c-3", RID3)]
    else:
        header = "source,object,external_id,record_id"
        rows = [
            header,
            *(
                f"userdb,contacts,{e},{r}"
                for e, r in [(odd, RID), ("b-2", "not-a-uuid"), ("c-3", RID3)]
            ),
        ]
    path = tmp_path / f"links.{fmt}"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = cli("mappings", "import", "--json", str(path))
    report = json.loads(result.stdout)
    offset = 0 if fmt == "jsonl" else 1
    try:
        check_external_id(odd)
        expected = [2 + offset]
    except InvalidIdentifier:
        expected = [1 + offset, 2 + offset]
    assert [e["line"] for e in report["errors"]] == expected
    assert report["linked"] == 3 - len(expected)


# --- item 7: a cap on the record ids one event carries ---------------------------------


def _std_body(event: str, record_ids: list[str]) -> bytes:
    return json.dumps(
        {"type": "user.deleted", "data": {"id": event, "zeeg_id": record_ids}}
    ).encode()


def _post_std(client: FlaskClient, settings: Settings, body: bytes, msg_id: str) -> Any:
    return client.post("/webhooks/std", data=body, headers=signed(settings, "std", body, msg_id))


def _uuids(n: int) -> list[str]:
    return [f"{i:08x}-1a2b-4c3d-8e9f-0123456789ab" for i in range(n)]


def test_default_cap_is_100_record_ids_per_event(
    client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """101 payload record ids (a 1 MB body holds ~26,000) are refused whole: 422, nothing kept."""
    assert settings.intake.max_record_ids_per_event == 100
    answer = _post_std(client, settings, _std_body("u-1", _uuids(101)), "msg_big")
    assert answer.status_code == 422
    assert answer.json["error"] == "invalid_field"
    assert "at most 100 record ids" in answer.json["message"]
    assert stored_keys(conns) == []
    answer = _post_std(client, settings, _std_body("u-2", _uuids(100)), "msg_full")
    assert answer.status_code == 202, answer.json


def test_configured_cap_refuses_more_and_a_capped_event_is_deleted_by_a_worker(
    sandbox: Sandbox, conns: Connections
) -> None:
    """[intake] max_record_ids_per_event = 3: four ids are 422; three are all deleted."""
    settings = make_settings(sandbox.url, intake={"max_record_ids_per_event": 3})
    client = create_app(settings, redis=conns).test_client()
    rids = sandbox.state.seed("customers", [{}, {}, {}, {}])
    refused = _post_std(client, settings, _std_body("u-1", rids), "msg_4")
    assert (refused.status_code, refused.json["error"]) == (422, "invalid_field")
    assert stored_keys(conns) == []
    accepted = _post_std(client, settings, _std_body("u-2", rids[:3]), "msg_3")
    assert accepted.status_code == 202, accepted.json
    drain(settings, conns)
    assert sorted(sandbox.state.records["customers"]) == [rids[3]]


def test_an_over_cap_event_in_a_batch_is_one_invalid_item(
    conns: Connections, sandbox: Sandbox
) -> None:
    """In an Auth0 batch the over-cap event is refused with its reason; the others are queued."""
    from tests.helpers import sender_settings

    hinted = [{"object": "contacts", "resolve": ["payload:data.details.zeeg_ids", "store"]}]
    settings = sender_settings(auth0logs={"targets": hinted})
    client = create_app(settings, redis=conns).test_client()
    big = _log("L1", "auth0|1")
    big["data"]["details"] = {"zeeg_ids": _uuids(101)}
    body = json.dumps([big, _log("L2", "auth0|2")]).encode()
    answer = client.post("/webhooks/auth0logs", data=body, headers=AUTH0)
    assert answer.status_code == 202, answer.json
    assert [r["status"] for r in answer.json["results"]] == ["invalid", "accepted"]
    assert _jobs(conns) == [["auth0logs", "L2"]]


@pytest.mark.parametrize("value", [0, -1, "100", 1.5, True])
def test_cap_must_be_a_positive_whole_number(value: Any) -> None:
    """A zero or negative cap would refuse every hinted event: the config is refused instead."""
    with pytest.raises(ConfigError, match="max_record_ids_per_event"):
        make_settings(intake={"max_record_ids_per_event": value})
