"""The zeeg-consumer commands that need no running service, through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from consumer.cli import main
from consumer.store import mappings
from consumer.store.connection import Connections
from tests.helpers import RedisServer, userdb_toml

CONFIG = userdb_toml()
RID = "0f8fad5b-d9cb-469f-a165-70867728950e"


@pytest.fixture
def env(tmp_path: Path, redis_server: RedisServer) -> dict[str, str]:
    config = tmp_path / "consumer.toml"
    config.write_text(CONFIG)
    return {
        "CONSUMER_CONFIG": str(config),
        "REDIS_URL": redis_server.url,
        "USERDB_SECRET": "s3cret-value-userdb",
        "ZEEG_API_TOKEN": "",
    }


@pytest.mark.parametrize("command", [["run"], ["web"], ["worker"]])
def test_service_commands_refuse_to_start_without_token_or_sandbox(
    env: dict[str, str], command: list[str]
) -> None:
    """No silent fallback to the fake Zeeg: one clear line and a non-zero exit."""
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 1
    assert "ZEEG_API_TOKEN is not set" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_configuration_is_one_line_naming_the_problem(
    env: dict[str, str], tmp_path: Path
) -> None:
    """check on a broken file exits 1 with the file, key and reason."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[zeeg]\nburst = 'x'\n")
    result = CliRunner().invoke(
        main, ["check", "--offline"], env={**env, "CONSUMER_CONFIG": str(bad)}
    )
    assert result.exit_code == 1
    assert "[zeeg] burst: must be int" in result.output


def test_check_offline_reports_config_and_redis_as_json(env: dict[str, str]) -> None:
    """check --json prints a machine-readable report and never the secrets."""
    result = CliRunner().invoke(main, ["check", "--offline", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["redis"] == "ok" and report["sources"] == ["userdb"]
    assert "s3cret-value" not in result.output


def test_check_fails_when_redis_is_unreachable(env: dict[str, str]) -> None:
    """A release step must not pass with Redis down."""
    env = {**env, "REDIS_URL": "redis://127.0.0.1:9/0"}
    result = CliRunner().invoke(main, ["check", "--offline"], env=env)
    assert result.exit_code == 1
    assert "redis unreachable" in result.output


def test_mappings_import_csv_skips_bad_lines_and_reports_their_numbers(
    env: dict[str, str], tmp_path: Path, conns: Connections
) -> None:
    """Good rows are imported; each bad row is named by its line number."""
    path = tmp_path / "map.csv"
    path.write_text(
        "source,object,external_id,record_id,linked_at\n"
        f"userdb,contacts,u-1,{RID},2026-01-01T00:00:00Z\n"
        "userdb,contacts,u-2,not-a-uuid,\n"
        f"userdb,x,u-3,{RID},\n"
    )
    result = CliRunner().invoke(main, ["mappings", "import", str(path), "--json"], env=env)
    assert result.exit_code == 1, result.output  # bad lines make the exit non-zero
    report = json.loads(result.stdout)
    assert report["linked"] == 1
    assert [e["line"] for e in report["errors"]] == [3, 4]
    (m,) = mappings.get(conns.text, "userdb", "contacts", "u-1")
    assert m.record_id == RID and m.linked_at == 1767225600.0


def test_mappings_import_json_lines(
    env: dict[str, str], tmp_path: Path, conns: Connections
) -> None:
    """JSON lines with the same keys; several records for one external id are several rows."""
    rid2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    path = tmp_path / "map.jsonl"
    rows = [
        {"source": "userdb", "object": "contacts", "external_id": "u-1", "record_id": RID},
        {"source": "userdb", "object": "contacts", "external_id": "u-1", "record_id": rid2},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = CliRunner().invoke(main, ["mappings", "import", str(path)], env=env)
    assert result.exit_code == 0, result.output
    found = {m.record_id for m in mappings.get(conns.text, "userdb", "contacts", "u-1")}
    assert found == {RID, rid2}


def test_mappings_import_with_wrong_columns_fails(env: dict[str, str], tmp_path: Path) -> None:
    """A file without the required header imports nothing and exits 1."""
    path = tmp_path / "wrong.csv"
    path.write_text("id,uuid\nu-1," + RID + "\n")
    result = CliRunner().invoke(main, ["mappings", "import", str(path)], env=env)
    assert result.exit_code == 1
    assert "missing" in result.output


def test_mappings_get_prints_linked_records(env: dict[str, str], conns: Connections) -> None:
    """get shows the record ids of one external id; an unknown one exits 1."""
    from consumer.models import Mapping

    mappings.put(conns.text, Mapping("userdb", "contacts", "u-9", RID, 5.0))
    result = CliRunner().invoke(
        main, ["mappings", "get", "userdb", "contacts", "u-9", "--json"], env=env
    )
    assert json.loads(result.output) == [{"record_id": RID, "linked_at": 5.0}]
    missing = CliRunner().invoke(main, ["mappings", "get", "userdb", "contacts", "nope"], env=env)
    assert missing.exit_code == 1


def test_every_command_has_help(env: dict[str, str]) -> None:
    """--help works on the group and each command."""
    runner = CliRunner()
    for command in main.commands:
        result = runner.invoke(main, [command, "--help"], env=env)
        assert result.exit_code == 0, command
        assert "Usage:" in result.output


def test_operator_commands_find_the_embedded_redis_of_a_running_run(
    env: dict[str, str],
    redis_server: RedisServer,
    conns: Connections,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without REDIS_URL, var/redis.url (kept by `run`) is used; REDIS_URL still wins."""
    from consumer.models import Mapping

    mappings.put(conns.text, Mapping("userdb", "contacts", "u-7", RID, 5.0))
    runner = CliRunner()
    args = ["mappings", "get", "userdb", "contacts", "u-7", "--json"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "redis.url").write_text(redis_server.url + "\n")
    found = runner.invoke(main, args, env={**env, "REDIS_URL": None})  # type: ignore[dict-item]
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)[0]["record_id"] == RID
    elsewhere = runner.invoke(main, args, env={**env, "REDIS_URL": "redis://127.0.0.1:9/0"})
    assert elsewhere.exit_code == 1
