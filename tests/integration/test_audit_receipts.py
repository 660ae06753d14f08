"""Signed receipts and checkpoints on real Redis: a webhook, a worker and the sandbox erase a
record; the receipt (CLI and admin) names it with its audit entry's hash and verifies offline
under the public key, and fails with a wrong key or one changed byte; every export takes a
checkpoint that a truncated export no longer reaches; the hourly one is taken once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from consumer import signing
from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.signing import SigningKey
from consumer.store import checkpoints, index, keys
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import ADMIN_TOKEN, RedisServer, drain, make_settings, mapped, post


@pytest.fixture
def key() -> tuple[str, SigningKey]:
    return signing.generate()


@pytest.fixture
def signed_settings(
    sandbox: Sandbox, redis_server: RedisServer, key: tuple[str, SigningKey]
) -> Settings:
    env = {"REDIS_URL": redis_server.url, "CONSUMER_ADMIN_TOKEN": ADMIN_TOKEN}
    return make_settings(sandbox.url, env={**env, "AUDIT_SIGNING_KEY": key[0]})


@pytest.fixture
def signed_admin(signed_settings: Settings, conns: Connections) -> FlaskClient:
    client = create_app(signed_settings, redis=conns).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ADMIN_TOKEN}"
    return client


@pytest.fixture
def erased(
    signed_admin: FlaskClient, signed_settings: Settings, conns: Connections, sandbox: Sandbox
) -> str:
    """Event e-1 for u-1 erased for real (webhook, worker, sandbox DELETE); its record id."""
    rid = mapped(conns, sandbox, "u-1")
    post(signed_admin, signed_settings, "e-1", "u-1")
    drain(signed_settings, conns)
    return rid


def _write(tmp_path: Path, name: str, doc: Any) -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def test_a_cli_receipt_names_the_record_and_its_audit_hash_and_verifies(
    cli: Any, tmp_path: Path, erased: str, key: tuple[str, SigningKey], conns: Connections
) -> None:
    """receipt SOURCE EVENT_ID: signed, the record deleted with its status and the audit
    entry's hash; receipt verify with the public key: exit 0."""
    env = {"AUDIT_SIGNING_KEY": key[0]}
    result = cli("receipt", "userdb", "e-1", extra_env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["signed"] is True and doc["status"] == "done" and doc["external_id"] == "u-1"
    ((entry_id, fields),) = conns.text.xrange(keys.AUDIT)
    (record,) = doc["records"]
    assert record["record_id"] == erased and record["outcome"] == "deleted"
    assert record["audit_hash"] == fields["hash"] and record["audit_id"] == entry_id
    assert (
        record["http_status"] == int(fields["http_status"]) and 200 <= record["http_status"] < 300
    )
    path = _write(tmp_path, "receipt.json", result.stdout)
    ok = cli("receipt", "verify", str(path), "--public-key", key[1].public)
    assert ok.exit_code == 0 and "ok: receipt of userdb/e-1 (done)" in ok.stdout, ok.output


def test_a_receipt_fails_with_a_wrong_key_or_one_changed_byte(
    cli: Any, tmp_path: Path, erased: str, key: tuple[str, SigningKey]
) -> None:
    """Another public key: exit 1 (another key); one byte of the record id changed: exit 1."""
    text = cli("receipt", "userdb", "e-1", extra_env={"AUDIT_SIGNING_KEY": key[0]}).stdout
    _, other = signing.generate()
    path = _write(tmp_path, "receipt.json", text)
    wrong = cli("receipt", "verify", str(path), "--public-key", other.public)
    assert wrong.exit_code == 1 and "another key" in wrong.stderr, wrong.output
    i = text.index(erased) + 3
    changed = text[:i] + ("0" if text[i] != "0" else "1") + text[i + 1 :]
    bad = cli(
        "receipt",
        "verify",
        str(_write(tmp_path, "bad.json", changed)),
        "--public-key",
        str(_write(tmp_path, "key.pub", key[1].public)),
    )
    assert bad.exit_code == 1 and "does not match" in bad.stderr, bad.output


def test_the_admin_receipt_and_public_key_agree_with_the_cli(
    signed_admin: FlaskClient, erased: str, key: tuple[str, SigningKey]
) -> None:
    """GET /admin/receipts/...: a receipt the served public key verifies."""
    served = signed_admin.get("/admin/audit/public-key")
    assert served.status_code == 200 and served.json is not None
    assert served.json["public_key"] == key[1].public
    answer = signed_admin.get("/admin/receipts/userdb/e-1")
    assert answer.status_code == 200 and answer.json is not None
    assert answer.json["records"][0]["record_id"] == erased
    public = signing.load_public(served.json["public_key"])
    assert signing.problem(answer.json, public) is None


def test_receipts_of_unknown_or_unfinished_events_are_refused(
    signed_admin: FlaskClient, signed_settings: Settings, admin: FlaskClient
) -> None:
    """404 for an unknown event, 409 while it is queued, 400 for a bad source name; without
    a key the public key is 404 and a receipt says it is unsigned."""
    assert signed_admin.get("/admin/receipts/userdb/nope").status_code == 404
    post(signed_admin, signed_settings, "e-2", "u-2")  # queued: no worker ran
    queued = signed_admin.get("/admin/receipts/userdb/e-2")
    assert queued.status_code == 409 and queued.json is not None
    assert queued.json["error"] == "conflict" and "queued" in queued.json["message"]
    assert signed_admin.get("/admin/receipts/bad%20name/e-2").status_code == 400
    assert admin.get("/admin/audit/public-key").status_code == 404


def test_an_unsigned_receipt_says_so(cli: Any, erased: str) -> None:
    """No AUDIT_SIGNING_KEY: the receipt is issued, signed false, without a signature."""
    result = cli("receipt", "show", "userdb", "e-1")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["signed"] is False and "signature" not in doc and doc["records"]


def test_an_export_checkpoint_is_reached_by_its_export_and_not_by_a_cut_one(
    cli: Any,
    tmp_path: Path,
    signed_admin: FlaskClient,
    signed_settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
    key: tuple[str, SigningKey],
) -> None:
    """audit export --checkpoint: verify --checkpoint --public-key passes; the export with
    its last row cut fails (the signed head is not in it); a forged head fails the signature."""
    for n in range(3):
        mapped(conns, sandbox, f"u-{n}")
        post(signed_admin, signed_settings, f"e-{n}", f"u-{n}")
    drain(signed_settings, conns)
    cp_path = tmp_path / "cp.json"
    env = {"AUDIT_SIGNING_KEY": key[0]}
    export = cli("audit", "export", "--checkpoint", str(cp_path), extra_env=env)
    assert export.exit_code == 0, export.output
    lines = export.stdout.splitlines()
    assert json.loads(cp_path.read_text())["head"] == conns.text.get(keys.AUDIT_HEAD)
    full = _write(tmp_path, "full.jsonl", export.stdout)
    args = ("--checkpoint", str(cp_path), "--public-key", key[1].public)
    ok = cli("audit", "verify", str(full), *args)
    assert ok.exit_code == 0 and "at row 3" in ok.stdout, ok.output
    cut = _write(tmp_path, "cut.jsonl", "".join(line + "\n" for line in lines[:-1]))
    short = cli("audit", "verify", str(cut), *args)
    assert short.exit_code == 1 and "head is not in the export" in short.stderr, short.output
    forged = {**json.loads(cp_path.read_text()), "head": json.loads(lines[1])["hash"]}
    bad = cli(
        "audit",
        "verify",
        str(cut),
        "--checkpoint",
        str(_write(tmp_path, "f.json", forged)),
        "--public-key",
        key[1].public,
    )
    assert bad.exit_code == 1 and "does not match" in bad.stderr, bad.output


def test_the_hourly_checkpoint_is_taken_once_across_workers(
    conns: Connections, key: tuple[str, SigningKey]
) -> None:
    """take_if_due from two workers in the same hour: one checkpoint, signed, listed."""
    first = checkpoints.take_if_due(conns.text, key[1], 1_700_000_000.0)
    second = checkpoints.take_if_due(conns.text, key[1], 1_700_000_060.0)
    assert first is not None and second is None
    (latest,) = checkpoints.latest(conns.text)
    assert latest == first and latest["reason"] == "hourly"
    assert signing.problem(latest, signing.load_public(key[1].public)) is None
    assert 0 < conns.text.ttl(keys.CHECKPOINT_DUE) <= checkpoints.HOURLY


def test_admin_exports_take_checkpoints_that_the_admin_lists(signed_admin: FlaskClient) -> None:
    """GET /admin/audit takes one; POST /admin/audit/checkpoint takes one; both are listed."""
    assert signed_admin.get("/admin/audit").status_code == 200
    taken = signed_admin.post("/admin/audit/checkpoint")
    assert taken.status_code == 201 and taken.json is not None and taken.json["signed"] is True
    listed = signed_admin.get("/admin/audit/checkpoints?limit=5")
    assert listed.status_code == 200 and listed.json is not None
    reasons = [c["reason"] for c in listed.json["checkpoints"]]
    assert reasons == ["manual", "export"]
    assert signed_admin.get("/admin/audit/checkpoints?limit=0").status_code == 400


def test_a_workers_maintenance_takes_the_hourly_checkpoint(
    signed_settings: Settings, conns: Connections
) -> None:
    """A real worker's maintenance run: one signed hourly checkpoint; a second run: none more."""
    from consumer.delivery.worker import make_worker
    from consumer.queue import erasure_queue

    worker = make_worker(signed_settings, erasure_queue(conns.raw), text=conns.text)
    worker.run_maintenance_tasks()
    worker.run_maintenance_tasks()
    (taken,) = checkpoints.latest(conns.text)
    assert taken["reason"] == "hourly" and taken["signed"] is True


def test_a_receipt_reads_the_audit_index_once_complete_not_the_trail(
    cli: Any, erased: str, key: tuple[str, SigningKey], conns: Connections
) -> None:
    """With the audit index complete, a receipt finds the record's audit entry through the
    person's index: it still names the record once the event's trail is gone."""
    assert index.backfill(conns.text, "audit", retention_days=30)
    conns.text.delete(keys.trail("userdb", "e-1"))
    result = cli("receipt", "userdb", "e-1", extra_env={"AUDIT_SIGNING_KEY": key[0]})
    assert result.exit_code == 0, result.output
    ((entry_id, fields),) = conns.text.xrange(keys.AUDIT)
    (record,) = json.loads(result.stdout)["records"]
    assert record["record_id"] == erased and record["audit_id"] == entry_id
    assert record["audit_hash"] == fields["hash"]
