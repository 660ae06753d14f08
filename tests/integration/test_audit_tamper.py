"""The hash-chained audit on real Redis: webhooks, a worker and the sandbox write it, the
export verifies offline, and each of the four tamperings is named; concurrent writers form
one chain; trimming keeps an anchor."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.models import Event, Outcome
from consumer.ops.audit import verify
from consumer.settings import Settings
from consumer.store import audit, keys, outcomes, retention
from consumer.store.connection import Connections
from tests.helpers import drain, mapped, post


@pytest.fixture
def exported(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> list[str]:
    """A JSON lines export of five real erasures (webhook, worker, sandbox DELETE)."""
    for n in range(5):
        mapped(conns, sandbox, f"u-{n}")
        post(client, settings, f"e-{n}", f"u-{n}")
    drain(settings, conns)
    result = cli("audit", "export")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def _verify(cli: Any, tmp_path: Path, lines: list[str]) -> Any:
    path = tmp_path / "export.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return cli("audit", "verify", str(path))


def test_a_real_export_verifies_with_its_count_and_head(
    cli: Any, tmp_path: Path, exported: list[str], conns: Connections
) -> None:
    """exit 0, five entries, the head is the stored head."""
    result = _verify(cli, tmp_path, exported)
    assert result.exit_code == 0, result.output
    assert "5 chained entries" in result.stdout
    assert str(conns.text.get(keys.AUDIT_HEAD)) in result.stdout


def _changed(lines: list[str]) -> list[str]:
    row = json.loads(lines[2])
    row["outcome"] = "not_found"
    return [*lines[:2], json.dumps(row), *lines[3:]]


@pytest.mark.parametrize(
    ("tamper", "row", "word"),
    [
        (lambda ls: ls[:2] + ls[3:], 3, "removed"),
        (lambda ls: [*ls[:2], ls[1].replace("e-1", "e-9"), *ls[2:]], 3, "changed"),
        (_changed, 3, "changed"),
        (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], 2, "reordered"),
    ],
    ids=["removed", "inserted", "changed", "reordered"],
)
def test_each_tampering_of_a_real_export_is_named(
    cli: Any, tmp_path: Path, exported: list[str], tamper: Any, row: int, word: str
) -> None:
    """exit 1 and the first bad row named: removed, inserted (a forged copy), changed, reordered."""
    result = _verify(cli, tmp_path, tamper(exported))
    assert result.exit_code == 1, result.output
    assert f"row {row}:" in result.stderr and word in result.stderr, result.stderr


def test_an_inserted_entry_with_a_recomputed_hash_is_named_inserted(
    tmp_path: Path, exported: list[str]
) -> None:
    """A forged entry with a valid hash of its own, linked to row 2: row 3 inserted."""
    from consumer import audit_chain

    forged = json.loads(exported[1])
    stored = json.loads(forged["canonical"])
    stored.update(event_id="e-forged", prev=forged["hash"])
    text = audit_chain.canonical(stored)
    forged.update(event_id="e-forged", prev=forged["hash"], canonical=text)
    forged["hash"] = audit_chain.link(forged["prev"], text)
    lines = [*exported[:2], json.dumps(forged), *exported[2:]]
    verdict = verify("\n".join(lines))
    assert verdict.row == 3 and "inserted" in str(verdict.problem), verdict


def _record(conns: Connections, worker: int, count: int) -> None:
    for n in range(count):
        event = Event("userdb", f"c{worker}-{n}", "user.deleted", f"u{worker}-{n}", None, ())
        outcome = Outcome("contacts", "deleted", f"r{worker}-{n}", 200)
        outcomes.record(conns.text, event, outcome, 1733000000.0 + n, per_record=True)


def test_concurrent_writers_form_one_chain(conns: Connections) -> None:
    """Eight threads recording at once: 400 entries, one unbroken chain ending at the head."""
    threads = [threading.Thread(target=_record, args=(conns, w, 50)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    from consumer.ops.audit import export

    verdict = verify("".join(export(conns.text, "jsonl", None, None)))
    assert (verdict.ok, verdict.count) == (True, 400), verdict
    assert verdict.head == conns.text.get(keys.AUDIT_HEAD)


def test_trimming_keeps_an_anchor_and_the_rest_verifies(conns: Connections) -> None:
    """Entries past retention go; the anchor is the last one's hash; the rest verifies from it."""
    _record(conns, 0, 6)
    ids = [e["id"] for e in audit.entries(conns.text)]
    hashes = [e["hash"] for e in audit.entries(conns.text)]
    removed = retention.trim_audit(conns.text, ids[3].split("-")[0])
    kept = list(audit.entries(conns.text))
    assert removed + len(kept) == 6 and removed >= 1
    anchor = str(conns.text.get(keys.AUDIT_ANCHOR))
    assert anchor == hashes[removed - 1] == kept[0]["prev"]
    from consumer.ops.audit import export

    text = "".join(export(conns.text, "jsonl", None, None))
    assert verify(text, anchor=anchor).ok
    assert verify(text, anchor="").row == 1
