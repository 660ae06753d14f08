"""Replay from the event log after a Zeeg outage, dry runs, and cancelling between events."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.ops import Ops
from consumer.ops import replay as rp
from consumer.ops.events import Filters, filters_from
from consumer.settings import Settings
from consumer.store import events
from consumer.store.connection import Connections
from tests.helpers import deletes, drain, failed_events, mapped, post


def outage(
    client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> tuple[list[str], list[str]]:
    """Two events delivered, then three that fail on a 503 outage; returns the record ids."""
    before = [mapped(conns, sandbox, f"ok-{i}") for i in range(2)]
    for i in range(2):
        post(client, settings, f"ok-{i}", f"ok-{i}")
    drain(settings, conns)
    sandbox.state.set_faults(always={"status": 503})
    during = [mapped(conns, sandbox, f"down-{i}") for i in range(3)]
    for i in range(3):
        post(client, settings, f"down-{i}", f"down-{i}")
    drain(settings, conns)
    sandbox.state.set_faults(always=None)
    return before, during


def test_replay_since_delivers_exactly_the_events_that_did_not_finish(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """After the outage, --dry-run counts the 3 failed events; replay deletes exactly them."""
    since = str(time.time() - 60)
    before, during = outage(client, settings, conns, sandbox)
    assert [events.load(conns.text, "userdb", f"down-{i}").status for i in range(3)] == [  # type: ignore[union-attr]
        "failed"
    ] * 3
    dry = cli("replay", "--since", since, "--dry-run", "--json")
    assert dry.exit_code == 0
    preview = json.loads(dry.stdout)
    assert preview["count"] == 3
    assert sorted(e["event_id"] for e in preview["sample"]) == ["down-0", "down-1", "down-2"]
    done_before = [r["path"] for r in deletes(sandbox, 200)]
    result = cli("replay", "--since", since, "--reason", "Zeeg outage over", "--json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)["replayed"]) == 3
    drain(settings, conns)
    new = [r["path"] for r in deletes(sandbox, 200)][len(done_before) :]
    assert sorted(new) == sorted(f"/crm/contacts/{rid}" for rid in during)
    assert all(f"/crm/contacts/{rid}" not in new for rid in before)


def test_replay_records_that_it_bypassed_deduplication_and_why(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """The event is marked replayed and its trail says who, why, and that dedupe was bypassed."""
    failed_events(client, settings, conns, sandbox, 1, recover=True)
    result = cli("replay", "--event-id", "e-1", "--reason", "retry after fix", "--by", "ana")
    assert result.exit_code == 0, result.output
    event = events.load(conns.text, "userdb", "e-1")
    assert event is not None and event.replayed
    (note,) = [t for t in events.trail(conns.text, "userdb", "e-1") if t["what"] == "replayed"]
    assert (note["by"], note["reason"], note["dedupe"]) == ("ana", "retry after fix", "bypassed")
    assert note["job_id"] == event.job_id != note["previous_job_id"]


def test_replay_of_a_still_retrying_event_replaces_its_scheduled_job(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """An event waiting for a retry is run once: its scheduled job is dropped for the new one."""
    rid = mapped(conns, sandbox, "u-1")
    sandbox.state.set_faults(always={"status": 503})
    post(client, settings, "e-1", "u-1")
    drain(settings, conns, run_for=0, scheduler=False)
    assert events.load(conns.text, "userdb", "e-1").status == "retrying"  # type: ignore[union-attr]
    sandbox.state.set_faults(always=None)
    assert cli("replay", "--reason", "outage over").exit_code == 0
    drain(settings, conns)
    assert [r["path"] for r in deletes(sandbox, 200)] == [f"/crm/contacts/{rid}"]


def test_replay_without_filters_skips_done_events(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """A bare replay picks only unfinished events: a done one is not counted."""
    post(client, settings, "e-1", "u-1")
    drain(settings, conns)
    result = cli("replay", "--dry-run", "--json")
    assert json.loads(result.stdout)["count"] == 0


def test_replay_by_outcome_reruns_dry_run_events(
    client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """--outcome dry_run selects done events whose target ended dry_run, and reruns them."""
    rid = mapped(conns, sandbox, "u-1")
    post(client, settings, "e-1", "u-1")
    dry = replace(settings, zeeg=replace(settings.zeeg, dry_run=True))
    drain(dry, conns)
    ops = Ops(settings, conns)
    selected = rp.select(ops, filters_from({"outcome": "dry_run"}, time.time()))
    assert [e["event_id"] for e in selected] == ["e-1"]
    list(rp.replay(ops, selected, by="test", reason="dry run over"))
    drain(settings, conns)
    assert [r["path"] for r in deletes(sandbox, 200)] == [f"/crm/contacts/{rid}"]


def test_replay_stopped_midway_replays_only_the_events_before_the_stop(
    client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Stopping the replay iterator (what Ctrl-C does) leaves later events untouched."""
    failed_events(client, settings, conns, sandbox, *range(4))
    ops = Ops(settings, conns)
    selected = rp.select(ops, Filters())
    replaying = rp.replay(ops, selected, by="test", reason="cancel test")
    first = [next(replaying), next(replaying)]
    replaying.close()
    statuses = [events.load(conns.text, "userdb", f"e-{i}").status for i in range(4)]  # type: ignore[union-attr]
    assert [r["event_id"] for r in first] == ["e-0", "e-1"]
    assert statuses == ["queued", "queued", "failed", "failed"]


def test_replay_needs_a_reason(cli: Any, conns: Connections) -> None:
    """A replay without --reason is a usage error: the why is always recorded."""
    result = cli("replay")
    assert result.exit_code == 2
    assert "--reason is required" in result.stderr


def test_replay_skips_an_event_a_worker_picked_up_after_selection(
    client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """An event that moved on since it was selected is skipped, its job left alone."""
    failed_events(client, settings, conns, sandbox, 1)
    ops = Ops(settings, conns)
    (selected,) = rp.select(ops, Filters())
    events.update(conns.text, "userdb", "e-1", status="running")
    result = rp.replay_one(ops, selected, by="test", reason="race")
    assert result["skipped"] and result["job_id"] is None
    event = events.load(conns.text, "userdb", "e-1")
    assert event is not None and event.job_id == selected["job_id"] and not event.replayed
