"""Recovering from an auth failure (resume) and exporting the audit of a run."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from typing import Any

from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import events, mappings
from consumer.store.connection import Connections
from tests.helpers import ZEEG_TOKEN, drain, mapped, post


def test_resume_after_an_auth_failure_is_fixed_deletes_every_waiting_record(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """401 pauses delivery; with the token fixed, resume requeues the waiting jobs at once."""
    rids = [mapped(conns, sandbox, f"u-{i}") for i in range(3)]
    sandbox.state.token = "rotated-elsewhere"
    for i in range(3):
        post(client, settings, f"e-{i}", f"u-{i}")
    drain(settings, conns, run_for=0, scheduler=False)
    status = json.loads(cli("status", "--json").stdout)
    assert "401" in status["paused"]["reason"]
    assert {events.load(conns.text, "userdb", f"e-{i}").status for i in range(3)} == {  # type: ignore[union-attr]
        "auth_paused"
    }
    sandbox.state.token = ZEEG_TOKEN
    resumed = json.loads(cli("resume", "--by", "ana", "--json").stdout)
    assert (resumed["changed"], resumed["requeued"]) == (True, 3)
    assert len(erasure_queue(conns.raw)) == 3
    drain(settings, conns)
    assert not set(rids) & set(sandbox.state.records["contacts"])


def _run_with_every_outcome(
    client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> dict[str, str]:
    """Four events ending deleted, already_deleted, not_mapped and stale."""
    ids = {"deleted": mapped(conns, sandbox, "u-del"), "already_deleted": str(uuid.uuid4())}
    mappings.put(conns.text, Mapping("userdb", "contacts", "u-gone", ids["already_deleted"], 1.0))
    ids["stale"] = str(uuid.uuid4())
    late = Mapping("userdb", "contacts", "u-new", ids["stale"], time.time() + 3600)
    mappings.put(conns.text, late)
    for external_id in ("u-del", "u-gone", "u-none", "u-new"):
        post(client, settings, f"e-{external_id}", external_id)
    drain(settings, conns)
    return ids


def test_audit_export_jsonl_lists_every_erasure_of_a_run_with_its_outcome(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """One line per target record with the right outcome, record id and HTTP status."""
    ids = _run_with_every_outcome(client, settings, conns, sandbox)
    result = cli("audit", "export", "--format", "jsonl", "--since", "1h")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    got = {r["external_id"]: (r["outcome"], r["record_id"], r["http_status"]) for r in rows}
    assert got == {
        "u-del": ("deleted", ids["deleted"], 200),
        "u-gone": ("already_deleted", ids["already_deleted"], 404),
        "u-none": ("not_mapped", None, None),
        "u-new": ("stale", ids["stale"], None),
    }
    assert all(r["event_id"] == f"e-{r['external_id']}" and r["completed_at"] for r in rows)


def test_audit_export_csv_has_the_spec_columns(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """CSV export: the header names every field, one row per erasure."""
    _run_with_every_outcome(client, settings, conns, sandbox)
    result = cli("audit", "export", "--format", "csv")
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert reader.fieldnames == [
        "event_id",
        "source",
        "external_id",
        "object",
        "record_id",
        "outcome",
        "http_status",
        "occurred_at",
        "completed_at",
        # issue 15: the hash chain's columns come after the spec's, in this order
        "prev",
        "hash",
        "canonical",
        # issue 15 item 5: whether a GET found the record gone (zeeg.verify_deletions)
        "verified",
    ]
    assert sorted(r["outcome"] for r in reader) == [
        "already_deleted",
        "deleted",
        "not_mapped",
        "stale",
    ]


def test_audit_export_until_before_the_run_is_empty(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """--until before the run excludes its entries."""
    _run_with_every_outcome(client, settings, conns, sandbox)
    result = cli("audit", "export", "--until", "1d")
    assert (result.exit_code, result.stdout) == (0, "")


def test_audit_export_with_a_bad_time_fails_with_one_line(cli: Any, conns: Connections) -> None:
    """An unreadable --since is exit 1 and one line."""
    result = cli("audit", "export", "--since", "yesterday-ish")
    assert result.exit_code == 1
    assert result.stderr.startswith("zeeg-consumer: cannot read time 'yesterday-ish'")
