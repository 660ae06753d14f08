"""The mappings commands: import, export, get, set, delete, sync, through the real CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from consumer.cli import main
from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.queue import erasure_queue
from consumer.store import keys, mappings
from consumer.store.connection import Connections
from tests.helpers import HMAC_SECRET, ZEEG_TOKEN, RedisServer, userdb_toml

RID = "3f2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
RID2 = "0a2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
HEADER = "source,object,external_id,record_id,linked_at\n"
CONFIG = userdb_toml(signature_header="X-Signature")


@pytest.fixture
def cli(tmp: Path, redis_server: RedisServer, sandbox: Sandbox, conns: Connections) -> CliRunner:
    """A runner whose environment points the CLI at the test Redis and the sandbox."""
    config = tmp / "consumer.toml"
    config.write_text(CONFIG)
    env = {
        "CONSUMER_CONFIG": str(config),
        "REDIS_URL": redis_server.url,
        "ZEEG_API_TOKEN": ZEEG_TOKEN,
        "ZEEG_API_BASE_URL": sandbox.url,
        "USERDB_SECRET": HMAC_SECRET,
    }
    return CliRunner(env=env)


def _run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, ["mappings", *args])


def _file(tmp: Path, text: str, name: str = "map.csv") -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


def test_import_links_every_good_row(cli: CliRunner, tmp: Path, conns: Connections) -> None:
    """A valid CSV imports every row, two records for one external id included."""
    path = _file(tmp, HEADER + f"userdb,contacts,u-1,{RID},\nuserdb,contacts,u-1,{RID2},\n")
    result = _run(cli, "import", path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["linked"] == 2
    assert len(mappings.get(conns.text, "userdb", "contacts", "u-1")) == 2


def test_import_reports_bad_lines_by_number_skips_them_and_exits_1(
    cli: CliRunner, tmp: Path, conns: Connections
) -> None:
    """Bad UUIDs are reported with their line numbers; the good rows are still linked."""
    text = HEADER + f"userdb,contacts,u-1,{RID},\nuserdb,contacts,u-2,not-a-uuid,\n"
    result = _run(cli, "import", _file(tmp, text))
    assert result.exit_code == 1
    assert "line 3: record id is not of the 8-4-4-4-12 hex shape" in result.stdout
    assert "1 bad line(s) skipped" in result.stderr
    assert len(mappings.get(conns.text, "userdb", "contacts", "u-1")) == 1


def test_import_of_an_unconfigured_source_is_a_bad_line(cli: CliRunner, tmp: Path) -> None:
    """Links for a source that is not configured could never be used: reported, skipped."""
    result = _run(cli, "import", _file(tmp, HEADER + f"nosuch,contacts,u-1,{RID},\n"), "--json")
    assert result.exit_code == 1
    assert "not configured" in json.loads(result.stdout)["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("source,object,record_id\nuserdb,contacts," + RID + "\n", "missing external_id"),
    ],
)
def test_import_refuses_an_empty_file_or_wrong_columns(
    cli: CliRunner, tmp: Path, conns: Connections, text: str, message: str
) -> None:
    """Empty files and wrong headers are refused whole: exit 1, nothing written."""
    result = _run(cli, "import", _file(tmp, text))
    assert result.exit_code == 1
    assert message in result.stderr
    assert list(mappings.scan(conns.text)) == []


def test_reimport_changes_nothing(cli: CliRunner, tmp: Path, conns: Connections) -> None:
    """The same file twice: the second run links nothing new, and duplicate rows are no error."""
    path = _file(tmp, HEADER + f"userdb,contacts,u-1,{RID},\nuserdb,contacts,u-1,{RID},\n")
    first = json.loads(_run(cli, "import", path, "--json").stdout)
    before = mappings.get(conns.text, "userdb", "contacts", "u-1")
    second = json.loads(_run(cli, "import", path, "--json").stdout)
    assert (first["linked"], first["unchanged"]) == (1, 1)
    assert (second["linked"], second["unchanged"]) == (0, 2)
    assert mappings.get(conns.text, "userdb", "contacts", "u-1") == before


def test_import_of_jsonl(cli: CliRunner, tmp: Path, conns: Connections) -> None:
    """JSON lines import the same way as CSV."""
    line = {"source": "userdb", "object": "contacts", "external_id": "u-9", "record_id": RID}
    result = _run(cli, "import", _file(tmp, json.dumps(line) + "\n", "map.jsonl"))
    assert result.exit_code == 0, result.output
    assert mappings.get(conns.text, "userdb", "contacts", "u-9")[0].record_id == RID


def test_import_of_a_tombstoned_id_enqueues_its_erasure(
    cli: CliRunner, tmp: Path, conns: Connections
) -> None:
    """Late link through import: the report says so and a job is queued."""
    conns.text.set(keys.tombstone("userdb", "u-t"), repr(time.time()))
    result = _run(cli, "import", _file(tmp, HEADER + f"userdb,contacts,u-t,{RID},\n"))
    assert result.exit_code == 0, result.output
    assert "erasure enqueued" in result.stdout
    assert len(erasure_queue(conns.raw)) == 1


def test_export_then_import_round_trips(cli: CliRunner, tmp: Path, conns: Connections) -> None:
    """export writes an import file: importing it into an empty store restores the links."""
    stored = Mapping("userdb", "contacts", "u:1", RID, 1704067200.5)
    mappings.put(conns.text, stored)
    exported = _run(cli, "export")
    assert exported.exit_code == 0
    conns.text.flushdb()
    assert _run(cli, "import", _file(tmp, exported.stdout)).exit_code == 0
    assert mappings.get(conns.text, "userdb", "contacts", "u:1") == [stored]


def test_set_get_and_delete(cli: CliRunner, conns: Connections) -> None:
    """set links one record, get shows it, delete unlinks it, and get then fails."""
    assert _run(cli, "set", "userdb", "contacts", "u-5", RID).exit_code == 0
    shown = _run(cli, "get", "userdb", "contacts", "u-5", "--json")
    assert [r["record_id"] for r in json.loads(shown.stdout)] == [RID]
    assert _run(cli, "delete", "userdb", "contacts", "u-5").exit_code == 0
    assert _run(cli, "get", "userdb", "contacts", "u-5").exit_code == 1


def test_set_with_an_earlier_linked_at_on_a_tombstoned_id_enqueues_erasure(
    cli: CliRunner, conns: Connections
) -> None:
    """Late link through set: --linked-at before the deletion erases at once."""
    conns.text.set(keys.tombstone("userdb", "u-6"), repr(time.time()))
    args = ("set", "userdb", "contacts", "u-6", RID, "--linked-at", "2024-01-01T00:00:00Z")
    assert _run(cli, *args).exit_code == 0
    assert len(erasure_queue(conns.raw)) == 1


def test_set_refuses_a_linked_at_that_get_and_export_could_not_show(
    cli: CliRunner, conns: Connections
) -> None:
    """A --linked-at outside 1970-9999 is refused with one line, and nothing is linked."""
    result = _run(cli, "set", "userdb", "contacts", "u-7", RID, "--linked-at", "99999999999999999")
    assert result.exit_code == 1 and "--linked-at" in result.stderr
    assert mappings.get(conns.text, "userdb", "contacts", "u-7") == []


def test_set_refuses_a_bad_record_id(cli: CliRunner) -> None:
    """A record id of the wrong shape is refused with one line."""
    result = _run(cli, "set", "userdb", "contacts", "u-5", "nope")
    assert result.exit_code == 1 and "8-4-4-4-12" in result.stderr


def test_sync_command_links_records_and_reports(
    cli: CliRunner, sandbox: Sandbox, conns: Connections
) -> None:
    """mappings sync pages through the sandbox and links by the attribute."""
    sandbox.state.seed("contacts", [{"attributes": {"ext": f"s-{i}"}} for i in range(3)])
    args = ("sync", "--source", "userdb", "--object", "contacts", "--attribute", "ext")
    result = _run(cli, *args, "--count", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["linked"] == 3
    assert len(list(mappings.scan(conns.text))) == 3


def test_sync_command_resumes_from_a_saved_cursor_and_says_so(
    cli: CliRunner, sandbox: Sandbox, conns: Connections
) -> None:
    """A cursor left by an interrupted run: the command resumes there and reports it."""
    sandbox.state.seed("contacts", [{"attributes": {"ext": f"s-{i}"}} for i in range(4)])
    cursor = keys.sync_cursor("userdb", "contacts", "ext")
    conns.text.hset(cursor, mapping={"page": 2, "count": 2, "total_pages": 2})
    args = ("sync", "--source", "userdb", "--object", "contacts", "--attribute", "ext")
    result = _run(cli, *args)
    assert result.exit_code == 0, result.output
    assert "resumed at page 2" in result.stdout
    assert len(list(mappings.scan(conns.text))) == 2


def test_sync_command_refuses_a_bad_attribute_name(cli: CliRunner) -> None:
    """An attribute name that could not be one is refused with one line."""
    args = ("sync", "--source", "userdb", "--object", "contacts", "--attribute", "a:b")
    result = _run(cli, *args, "--restart")
    assert result.exit_code == 1 and "invalid attribute name" in result.stderr


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("get", "u*", "contacts", "u-1"), "invalid source"),
        (("get", "userdb", "x", "u-1"), "object slug"),
        (("get", "userdb", "contacts", "a\x01b"), "external id"),
        (("delete", "userdb", "c*", "u-1"), "object slug"),
        (("delete", "userdb", "contacts", "u-1", "nope"), "8-4-4-4-12"),
        (("export", "--source", "x:y"), "invalid source"),
        (("export", "--object", "*"), "object slug"),
    ],
)
def test_get_delete_and_export_refuse_a_malformed_identifier(
    cli: CliRunner, args: tuple[str, ...], reason: str
) -> None:
    """Identifiers are checked before any key is built: one line naming the bad one."""
    result = _run(cli, *args)
    assert result.exit_code == 1 and reason in result.stderr


def test_a_link_of_unknown_age_is_null_in_get_and_empty_in_export(
    cli: CliRunner, tmp: Path
) -> None:
    """No linked_at on import: get --json says null, get says unknown, export leaves it empty."""
    assert _run(cli, "import", _file(tmp, HEADER + f"userdb,contacts,u-0,{RID},\n")).exit_code == 0
    shown = _run(cli, "get", "userdb", "contacts", "u-0", "--json")
    assert json.loads(shown.stdout) == [{"record_id": RID, "linked_at": None}]
    assert "unknown" in _run(cli, "get", "userdb", "contacts", "u-0").stdout
    assert _run(cli, "export").stdout.splitlines()[1] == f"userdb,contacts,u-0,{RID},"
