"""The operator CLI: status, events, failed, requeue, erase, pause and resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store import audit, events, pause
from consumer.store.connection import Connections
from tests.helpers import drain, failed_events, mapped, post, post_two_and_drain


def as_json(result: Any) -> Any:
    assert result.exit_code == 0, (result.output, repr(result.exception))
    return json.loads(result.stdout)


def test_status_json_counts_queued_jobs_and_last_hour_outcomes(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """status reports the queue depth before delivery and outcomes by kind after it."""
    mapped(conns, sandbox, "u-1")
    post(client, settings, "e-1", "u-1")
    post(client, settings, "e-2", "u-2")
    before = as_json(cli("status", "--json"))
    assert (before["queued"], before["failed"], before["paused"]) == (2, 0, None)
    assert before["oldest_queued_seconds"] >= 0
    drain(settings, conns)
    after = as_json(cli("status", "--json"))
    assert after["queued"] == 0
    assert after["last_hour"] == {"deleted": 1, "not_mapped": 1}


def test_status_text_is_a_readable_summary(cli: Any) -> None:
    """Without --json, status prints one labelled line per figure."""
    result = cli("status")
    assert result.exit_code == 0
    assert "queued       0" in result.stdout
    assert "paused       no" in result.stdout


def test_status_without_redis_fails_with_one_line(cli: Any, tmp_path: Path) -> None:
    """An unreachable Redis is one clear line on stderr and exit 1."""
    from click.testing import CliRunner

    from consumer.cli import main
    from tests.helpers import cli_env, write_config

    env = cli_env(
        write_config(tmp_path / "c.toml"), "http://127.0.0.1:9/v2", "redis://127.0.0.1:9/0"
    )
    result = CliRunner().invoke(main, ["status"], env=env)
    assert result.exit_code == 1
    assert result.stderr == "zeeg-consumer: Redis is unavailable (check REDIS_URL)\n"


def test_events_search_finds_an_event_by_external_id(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """events search --external-id returns only that person's events, with their status."""
    post_two_and_drain(client, settings, conns)
    found = as_json(cli("events", "search", "--external-id", "u-2", "--json"))
    assert [(e["event_id"], e["status"], e["outcomes"]) for e in found] == [
        ("e-2", "done", {"contacts": ["not_mapped"]})
    ]


def test_events_search_filters_by_status(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """--status queued excludes delivered events."""
    post(client, settings, "e-1", "u-1")
    drain(settings, conns)
    post(client, settings, "e-2", "u-2")
    found = as_json(cli("events", "search", "--status", "queued", "--json"))
    assert [e["event_id"] for e in found] == ["e-2"]


def test_events_search_table_has_a_header_and_a_row(
    cli: Any, client: FlaskClient, settings: Settings
) -> None:
    """The readable output is a table with a header line."""
    post(client, settings, "e-1", "u-1")
    lines = cli("events", "search").stdout.splitlines()
    assert lines[0].split()[:3] == ["RECEIVED_AT", "SOURCE", "EVENT_ID"]
    assert lines[1].split()[1:3] == ["userdb", "e-1"]


def test_events_show_gives_the_whole_trail(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """events show lists received, the attempt with its status code, the outcome, done."""
    mapped(conns, sandbox, "u-1")
    post(client, settings, "e-1", "u-1")
    drain(settings, conns)
    data = as_json(cli("events", "show", "userdb", "e-1", "--json"))
    steps = [t for t in data["trail"] if t["what"] != "run"]  # each job run is noted too
    assert [t["what"] for t in steps] == ["received", "attempt", "outcome", "done"]
    assert steps[1]["status"] == 200
    assert data["status"] == "done"


def test_events_show_of_an_unknown_event_fails_with_one_line(cli: Any, conns: Connections) -> None:
    """An unknown event is exit 1 and one line naming it."""
    result = cli("events", "show", "userdb", "nope")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "zeeg-consumer: no stored event userdb/nope (unknown, or past retention)"
    ]


def test_failed_lists_a_rejected_job_with_its_reason(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """A 400 from Zeeg fails the job; failed shows it with the reason."""
    failed_events(client, settings, conns, sandbox, 1)
    rows = as_json(cli("failed", "--json"))
    assert [(r["source"], r["event_id"]) for r in rows] == [("userdb", "e-1")]
    assert "400" in rows[0]["reason"]
    shown = as_json(cli("failed", "show", rows[0]["job_id"], "--json"))
    assert shown["trail"][-1]["what"] == "failed"


def test_requeue_all_after_a_fix_deletes_the_records_and_notes_who_and_why(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """requeue --all: attempts reset, new job ids, trail entry with by and reason, delivered."""
    rids = failed_events(client, settings, conns, sandbox, 0, 1, recover=True)
    done = as_json(cli("requeue", "--all", "--reason", "bad slug fixed", "--by", "ana", "--json"))
    assert len(done["requeued"]) == 2
    assert events.load(conns.text, "userdb", "e-0").attempts == 0  # type: ignore[union-attr]
    drain(settings, conns)
    assert not set(rids) & set(sandbox.state.records["contacts"])
    note = [t for t in events.trail(conns.text, "userdb", "e-0") if t["what"] == "requeued"]
    assert (note[0]["by"], note[0]["reason"]) == ("ana", "bad slug fixed")
    assert as_json(cli("failed", "--json")) == []


def test_requeue_one_job_leaves_the_others_failed(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """requeue JOB_ID requeues only that job."""
    failed_events(client, settings, conns, sandbox, 0, 1)
    first = as_json(cli("failed", "--json"))[0]
    done = as_json(cli("requeue", first["job_id"], "--reason", "retry one", "--json"))
    assert [r["previous_job_id"] for r in done["requeued"]] == [first["job_id"]]
    assert len(as_json(cli("failed", "--json"))) == 1


def test_requeue_of_an_unknown_job_changes_nothing_and_fails(cli: Any, conns: Connections) -> None:
    """An unknown job id is exit 1 with one line."""
    result = cli("requeue", "nope", "--reason", "x")
    assert result.exit_code == 1
    assert result.stderr.startswith("zeeg-consumer: no failed job 'nope'")


def test_erase_by_external_id_deletes_through_the_pipeline_and_audit(
    cli: Any, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """erase: a manual.erase event, a job, the DELETE, an audit entry."""
    rid = mapped(conns, sandbox, "u-9")
    accepted = as_json(cli("erase", "u-9", "--source", "userdb", "--reason", "ticket 7", "--json"))
    (one,) = accepted["accepted"]
    assert one["event_id"].startswith("manual-")
    drain(settings, conns)
    assert rid not in sandbox.state.records["contacts"]
    (entry,) = audit.entries(conns.text)
    assert (entry["event_id"], entry["outcome"]) == (one["event_id"], "deleted")
    event = events.load(conns.text, "userdb", one["event_id"])
    assert event is not None and event.event_type == "manual.erase"


def test_erase_from_a_csv_accepts_every_row(
    cli: Any, settings: Settings, conns: Connections, sandbox: Sandbox, tmp_path: Path
) -> None:
    """erase --csv with an external_id header erases each listed person."""
    rids = [mapped(conns, sandbox, f"u-{i}") for i in range(3)]
    path = tmp_path / "ids.csv"
    path.write_text("external_id,note\nu-0,a\nu-1,b\nu-2,c\n", encoding="utf-8")
    accepted = as_json(cli("erase", "--source", "userdb", "--csv", str(path), "--json"))
    assert [a["external_id"] for a in accepted["accepted"]] == ["u-0", "u-1", "u-2"]
    drain(settings, conns)
    assert not set(rids) & set(sandbox.state.records["contacts"])


def test_erase_for_an_unknown_source_fails_with_one_line(cli: Any, conns: Connections) -> None:
    """An unknown source is exit 1 naming the known ones."""
    result = cli("erase", "u-1", "--source", "nope")
    assert result.exit_code == 1
    assert result.stderr == "zeeg-consumer: no source named 'nope' (known: std, userdb)\n"


def test_pause_then_resume_shows_in_status(cli: Any, conns: Connections) -> None:
    """pause records the reason and who; resume lifts it."""
    assert cli("pause", "--reason", "Zeeg maintenance", "--by", "ana").exit_code == 0
    paused = as_json(cli("status", "--json"))["paused"]
    assert (paused["reason"], paused["by"]) == ("Zeeg maintenance", "ana")
    assert as_json(cli("resume", "--json"))["changed"] is True
    assert pause.state(conns.text) is None


def test_every_operator_command_has_help(cli: Any) -> None:
    """--help works for each operator command."""
    commands = [
        ["status"],
        ["events", "search"],
        ["events", "show"],
        ["failed"],
        ["failed", "show"],
        ["requeue"],
        ["replay"],
        ["erase"],
        ["audit", "export"],
        ["pause"],
        ["resume"],
        ["trim"],
    ]
    for command in commands:
        result = cli(*command, "--help")
        assert result.exit_code == 0, command
        assert "Usage:" in result.stdout


def test_requeue_needs_ids_or_all(cli: Any, conns: Connections) -> None:
    """requeue with neither ids nor --all is a usage error (exit 2)."""
    result = cli("requeue", "--reason", "x")
    assert result.exit_code == 2
    assert "name failed job ids, or pass --all" in result.stderr


def test_commands_print_valid_json_with_the_json_flag(cli: Any, conns: Connections) -> None:
    """--json output parses as JSON for each command that needs no arguments."""
    for command in (["status"], ["events", "search"], ["failed"], ["trim"], ["resume"]):
        result = cli(*command, "--json")
        assert result.exit_code == 0, command
        json.loads(result.stdout)


def test_failed_show_text_is_the_event_and_its_trail(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Without --json, failed show prints the fields and a trail table ending in failed."""
    failed_events(client, settings, conns, sandbox, 1)
    job_id = as_json(cli("failed", "--json"))[0]["job_id"]
    lines = cli("failed", "show", job_id).stdout.splitlines()
    assert lines[0].split() == ["job_id", job_id]
    assert lines[-1].split()[1:3] == ["failed", "status:400"]
