"""The audit hash chain, Redis-free: canonical form, link hash, and the offline verdicts."""

from __future__ import annotations

import hashlib
from typing import Any

from consumer import audit_chain
from consumer.ops.audit import read_export, render, verify


def _chain(n: int, prev: str = audit_chain.GENESIS) -> list[dict[str, Any]]:
    """n exported rows as `audit export` writes them, linked from prev."""
    rows = []
    for i in range(n):
        stored = {"event_id": f"e{i}", "source": "userdb", "external_id": f"u{i}"}
        stored.update(object="contacts", record_id=f"r{i}", outcome="deleted")
        stored.update(http_status="200", completed_at="1733000000.5", prev=prev)
        text = audit_chain.canonical(stored)
        prev = audit_chain.link(stored["prev"], text)
        rows.append({**render(stored), "prev": stored["prev"], "hash": prev, "canonical": text})
    return rows


def test_canonical_form_is_sorted_compact_utf8_without_the_hash() -> None:
    """Keys sorted, no whitespace, non-ASCII kept as is, `hash` left out."""
    text = audit_chain.canonical({"b": "é", "a": "1", "hash": "x", "prev": ""})
    assert text == '{"a":"1","b":"é","prev":""}'


def test_link_is_sha256_of_prev_then_canonical_bytes() -> None:
    """hash = hex SHA-256(prev UTF-8 + canonical UTF-8)."""
    expected = hashlib.sha256(b"abc" + '{"a":"é"}'.encode()).hexdigest()
    assert audit_chain.link("abc", '{"a":"é"}') == expected


def test_an_untouched_chain_verifies_with_its_count_and_head() -> None:
    """ok, every row counted, the head is the last hash."""
    rows = _chain(4)
    verdict = audit_chain.verify(rows, render)
    assert (verdict.ok, verdict.count, verdict.head) == (True, 4, rows[-1]["hash"])


def test_a_removed_entry_is_named_at_the_entry_after_it() -> None:
    """Row 3 gone: the new row 3 (event e3) reports the entry before it removed."""
    rows = _chain(5)
    del rows[2]
    verdict = audit_chain.verify(rows, render)
    assert verdict.row == 3 and "e3" in str(verdict.problem) and "removed" in str(verdict.problem)


def test_an_inserted_entry_is_named_whether_or_not_it_links_back() -> None:
    """A forged row between e1 and e2, linked to e1 or to nothing: it is named as inserted."""
    for prev_of_forged in ("0" * 64, None):
        rows = _chain(4)
        forged = _chain(1, rows[1]["hash"] if prev_of_forged is None else prev_of_forged)[0]
        rows.insert(2, forged)
        verdict = audit_chain.verify(rows, render)
        assert not verdict.ok and "inserted" in str(verdict.problem), verdict
        assert "row 3" in str(verdict.problem) or verdict.row == 3


def test_a_changed_value_is_named_even_when_only_the_shown_column_changed() -> None:
    """An edited outcome: changed, whether canonical was rewritten with it or not."""
    rows = _chain(3)
    rows[1]["outcome"] = "not_found"
    assert audit_chain.verify(rows, render).row == 2
    rows = _chain(3)
    rows[1]["canonical"] = rows[1]["canonical"].replace("deleted", "not_found")
    verdict = audit_chain.verify(rows, render)
    assert verdict.row == 2 and "changed" in str(verdict.problem)


def test_two_swapped_entries_are_named_as_reordered() -> None:
    """e1 and e2 swapped: row 2 follows an entry that comes later."""
    rows = _chain(4)
    rows[1], rows[2] = rows[2], rows[1]
    verdict = audit_chain.verify(rows, render)
    assert verdict.row == 2 and "reordered" in str(verdict.problem)


def test_legacy_rows_before_the_chain_are_counted_not_checked() -> None:
    """Rows without a hash before the first hashed row start nothing; one after it is changed."""
    legacy = {**_chain(1)[0], "prev": None, "hash": None, "canonical": None}
    verdict = audit_chain.verify([legacy, *_chain(2)], render)
    assert (verdict.ok, verdict.legacy, verdict.count) == (True, 1, 2)
    assert audit_chain.verify([*_chain(2), legacy], render).row == 3


def test_the_anchor_catches_a_removed_first_entry() -> None:
    """With the anchor given, a chain whose first entry went is reported at row 1."""
    rows = _chain(3)
    assert audit_chain.verify(rows[1:], render, anchor="").row == 1
    assert audit_chain.verify(rows[1:], render, anchor=rows[0]["hash"]).ok


def test_csv_and_jsonl_exports_read_back_to_rows_that_verify() -> None:
    """read_export: CSV cells restored (the "'" before a formula-like id dropped)."""
    import json

    from consumer import csvcell
    from consumer.ops.audit import COLUMNS

    rows = _chain(3)
    rows_csv = csvcell.line(COLUMNS) + "".join(csvcell.line(r[c] for c in COLUMNS) for r in rows)
    jsonl = "".join(json.dumps(r) + "\n" for r in rows)
    assert verify(rows_csv).count == 3 and verify(jsonl).count == 3
    assert read_export(jsonl)[0]["event_id"] == "e0"
