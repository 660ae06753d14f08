"""CSV exports a spreadsheet opens safely: no cell runs as a formula (OWASP CSV injection),
and a mappings export still imports back to the very same ids.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from consumer.models import Mapping
from consumer.store import keys, mappings
from consumer.store.connection import Connections

RID = "3f2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
# Valid external ids (5.5: any text without control characters) a spreadsheet would run.
RISKY = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "'=1+1", "''-x"]


def _audit_rows(conns: Connections) -> None:
    for n, external_id in enumerate(RISKY):
        row = {
            "event_id": f"-e{n}",
            "source": "userdb",
            "external_id": external_id,
            "object": "contacts",
            "outcome": "not_mapped",
            "completed_at": "1733000000.0",
        }
        conns.text.xadd(keys.AUDIT, row)  # type: ignore[arg-type]


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_audit_export_csv_neutralises_formulas(
    conns: Connections, admin: FlaskClient, cli: Any
) -> None:
    """CLI and admin CSV: every cell that starts like a formula starts with "'" instead."""
    _audit_rows(conns)
    for text in (
        cli("audit", "export", "--format", "csv").stdout,
        admin.get("/admin/audit?format=csv").get_data(as_text=True),
    ):
        rows = _cells(text)[1:]
        assert [r[2] for r in rows] == ["'" + v for v in RISKY]
        assert [r[0] for r in rows] == [f"'-e{n}" for n in range(len(RISKY))]
        assert all(c[:1] not in "=+-@\t\r" or c == "" for r in rows for c in r)


def test_audit_export_jsonl_keeps_values_as_they_are(conns: Connections, cli: Any) -> None:
    """JSON lines are no spreadsheet: the ids are exported exactly."""
    _audit_rows(conns)
    rows = [json.loads(line) for line in cli("audit", "export").stdout.splitlines()]
    assert [r["external_id"] for r in rows] == RISKY


def test_mappings_export_neutralises_and_import_restores_the_same_ids(
    cli: Any, conns: Connections, tmp_path: Path
) -> None:
    """export: "'=…" in the file; import of that file links the original ids, no others."""
    for external_id in RISKY:
        mappings.put(conns.text, Mapping("userdb", "contacts", external_id, RID, 1733000000.0))
    exported = cli("mappings", "export")
    assert exported.exit_code == 0, exported.output
    cells = {r[2] for r in _cells(exported.stdout)[1:]}
    assert cells == {"'" + v for v in RISKY}
    conns.text.flushall()
    path = tmp_path / "m.csv"
    path.write_text(exported.stdout, encoding="utf-8")
    imported = cli("mappings", "import", str(path))
    assert imported.exit_code == 0, imported.output
    stored = {m.external_id for m in mappings.scan(conns.text)}
    assert stored == set(RISKY)


def test_a_hand_written_csv_with_a_risky_id_imports_it_unchanged(
    cli: Any, conns: Connections, tmp_path: Path
) -> None:
    """An id written as is ("-5", "=x") is that id: only the export's own quote is dropped."""
    path = tmp_path / "m.csv"
    path.write_text(
        f"source,object,external_id,record_id\nuserdb,contacts,-5,{RID}\nuserdb,contacts,=x,{RID}\n"
    )
    assert cli("mappings", "import", str(path)).exit_code == 0
    assert {m.external_id for m in mappings.scan(conns.text)} == {"-5", "=x"}


def test_erase_csv_reads_an_audit_export_back_to_the_same_ids(
    cli: Any, conns: Connections, tmp_path: Path
) -> None:
    """The GDPR desk may feed an exported CSV to erase --csv: it erases "=x", not "'=x"."""
    _audit_rows(conns)
    path = tmp_path / "audit.csv"
    path.write_text(cli("audit", "export", "--format", "csv").stdout, encoding="utf-8")
    result = cli("erase", "--source", "userdb", "--csv", str(path), "--json")
    assert result.exit_code == 0, result.output
    accepted = json.loads(result.stdout)["accepted"]
    assert [a["external_id"] for a in accepted] == RISKY
