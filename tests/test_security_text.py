"""Text at the trust boundary: line splitting, record-id caps, free text, private Redis files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from consumer.errors import InvalidIdentifier
from consumer.models import check_external_id
from consumer.store.connection import Connections
from consumer.store.queue import erasure_queue
from tests.helpers import SENDER_ENV

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
