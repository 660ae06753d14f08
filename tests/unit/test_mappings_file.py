"""Mapping import files: CSV and JSON lines, bad lines, refused files, export round trip."""

from __future__ import annotations

import io
import json

import pytest

from consumer.errors import InvalidFile
from consumer.mappings.files import UNKNOWN, Row, RowError, read_rows, write_rows
from consumer.models import Mapping

RID = "3f2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
RID2 = "0a2b8c1e-1a2b-4c3d-8e9f-0123456789ab"


def _obj(external_id: str, record_id: str) -> dict[str, str]:
    return {
        "source": "userdb",
        "object": "contacts",
        "external_id": external_id,
        "record_id": record_id,
    }


def _read(text: str) -> list[Row | RowError]:
    return list(read_rows(io.StringIO(text)))


def test_csv_row_without_linked_at_is_linked_at_an_unknown_time() -> None:
    """No linked_at: UNKNOWN (older than any event), and an existing link keeps its time."""
    (row,) = _read(f"source,object,external_id,record_id\nuserdb,contacts,u-1,{RID.upper()}\n")
    assert row == Row(Mapping("userdb", "contacts", "u-1", RID, UNKNOWN), 2, True)


def test_csv_linked_at_in_iso_8601_is_used() -> None:
    """An ISO 8601 linked_at is the link's time, and replaces an existing one."""
    header = "source,object,external_id,record_id,linked_at\n"
    text = f"{header}userdb,contacts,u-1,{RID},2024-01-01T00:00:00Z\n"
    (row,) = _read(text)
    assert isinstance(row, Row)
    assert (row.mapping.linked_at, row.keep_linked_at) == (1704067200.0, False)


def test_jsonl_rows_are_read_with_their_line_numbers() -> None:
    """JSON lines: one object a line, blank lines skipped, numbers counted from 1."""
    line = '{"source":"userdb","object":"contacts","external_id":"u-%d","record_id":"%s"}\n'
    rows = _read(line % (1, RID) + "\n" + line % (2, RID2))
    assert [(r.line, r.mapping.external_id) for r in rows if isinstance(r, Row)] == [
        (1, "u-1"),
        (3, "u-2"),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("userdb,contacts,u-1,not-a-uuid", "8-4-4-4-12"),
        ("userdb,contacts,u-1,3f2b8c1e1a2b4c3d8e9f0123456789ab", "8-4-4-4-12"),
        ("userdb,x,u-1," + RID, "object slug"),
        ("Bad Source,contacts,u-1," + RID, "invalid source"),
        ("userdb,contacts,," + RID, "external id"),
        ("userdb,contacts,u-1," + RID + ",yesterday", "linked_at"),
        ("userdb,contacts,u-1," + RID + ",-5", "linked_at"),
        ("userdb,contacts,u-1," + RID + ",99999999999999999", "linked_at"),
        ("userdb,contacts,u-1," + RID + ",10000-01-01T00:00:00Z", "linked_at"),
        ("userdb,contacts,u-1," + RID + ",2024-01-01T00:00:00Z,extra", "more fields"),
    ],
)
def test_bad_csv_line_is_reported_with_its_number_and_skipped(line: str, reason: str) -> None:
    """A bad line becomes a RowError naming its line; the good lines around it still import."""
    header = "source,object,external_id,record_id,linked_at\n"
    good = f"userdb,contacts,u-0,{RID2},\n"
    rows = _read(header + good + line + "\n" + good)
    assert [type(r).__name__ for r in rows] == ["Row", "RowError", "Row"]
    error = rows[1]
    assert isinstance(error, RowError) and error.line == 3 and reason in error.reason


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (
            json.dumps({**_obj("u", RID), "x": 1}),
            "unknown key",
        ),
        (
            '{"source":"userdb","object":"contacts","external_id":"u","record_id":"nope"}',
            "8-4-4-4-12",
        ),
        (json.dumps({**_obj("u", RID), "linked_at": 1e300}), "linked_at"),
        (json.dumps({**_obj("u", RID), "linked_at": [1]}), "linked_at"),
    ],
)
def test_bad_json_line_is_reported_with_its_number(line: str, reason: str) -> None:
    """JSON lines: a bad line is an error with its number, the next line still reads."""
    good = json.dumps(_obj("u-1", RID))
    rows = _read(good + "\n" + line + "\n" + good + "\n")
    error = rows[1]
    assert isinstance(error, RowError) and error.line == 2 and reason in error.reason
    assert isinstance(rows[2], Row)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file_is_refused(text: str) -> None:
    """An empty (or blank) file is refused as a whole: there is nothing to import."""
    with pytest.raises(InvalidFile, match="empty"):
        _read(text)


def test_csv_with_a_missing_column_is_refused() -> None:
    """A header without record_id refuses the whole file, naming the missing column."""
    with pytest.raises(InvalidFile, match="missing record_id"):
        _read("source,object,external_id\nuserdb,contacts,u-1\n")


def test_csv_naming_a_column_twice_is_refused() -> None:
    """Two record_id columns: which one is meant is unknowable, so the file is refused."""
    with pytest.raises(InvalidFile, match="twice record_id"):
        _read(f"source,object,external_id,record_id,record_id\nuserdb,contacts,u,{RID},{RID2}\n")


def test_csv_with_an_unknown_column_is_refused() -> None:
    """A misspelt column (linkedat) refuses the file rather than silently ignoring it."""
    with pytest.raises(InvalidFile, match="unknown linkedat"):
        _read(f"source,object,external_id,record_id,linkedat\nuserdb,contacts,u,{RID},x\n")


def test_header_only_csv_has_no_rows() -> None:
    """A header and nothing else is a valid, empty import."""
    assert _read("source,object,external_id,record_id\n") == []


def test_duplicate_rows_are_both_read_not_errors() -> None:
    """Duplicate rows are not errors: linking the same record twice is idempotent."""
    line = f"userdb,contacts,u-1,{RID}\n"
    rows = _read("source,object,external_id,record_id\n" + line + line)
    assert all(isinstance(r, Row) for r in rows) and len(rows) == 2


def test_byte_order_mark_before_the_header_is_ignored() -> None:
    """A UTF-8 BOM (spreadsheet exports) does not spoil the first column's name."""
    rows = _read(f"\ufeffsource,object,external_id,record_id\nuserdb,contacts,u,{RID}\n")
    assert isinstance(rows[0], Row)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_reads_back_as_the_same_mappings(fmt: str) -> None:
    """write_rows produces an import file that reads back to the same links and times."""
    found = [
        Mapping("userdb", "contacts", "u,1", RID, 1704067200.25),
        Mapping("userdb", "contacts", 'u"2', RID2, UNKNOWN),
    ]
    out = io.StringIO()
    assert write_rows(found, out, fmt) == 2
    rows = _read(out.getvalue())
    assert [r.mapping for r in rows if isinstance(r, Row)] == found
