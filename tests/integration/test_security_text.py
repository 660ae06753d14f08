"""Text at the trust boundary: line splitting, record-id caps, free text, private Redis files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.errors import InvalidIdentifier
from consumer.intake import accept
from consumer.models import ParsedEvent, check_external_id
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import events, pause
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import SENDER_ENV, drain, make_settings, signed, stored_keys

AUTH0 = {"Authorization": "Bearer " + SENDER_ENV["AUTH0_TOKEN"], "Content-Type": "application/json"}
RID = "3f2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
RID3 = "0c2b8c1e-1a2b-4c3d-8e9f-0123456789ab"

# The characters str.splitlines() breaks on that may sit raw in a JSON string (the others it
# breaks on, \x0b \x0c \x1c-\x1e, are control characters JSON must escape).
LINE_BREAKERS = ["\x85", "\u2028", "\u2029"]


def _log(log_id: str, user_id: str, user_name: str = "someone") -> dict[str, Any]:
    data = {"date": "2023-11-01T10:00:00.000Z", "type": "sdu", "user_id": user_id}
    return {"log_id": log_id, "data": {**data, "user_name": user_name}}


def _jobs(conns: Connections) -> list[list[Any]]:
    return [list(job.args) for job in erasure_queue(conns.raw).jobs]


# --- item 6: JSON lines are split on \n (and \r\n) only --------------------------------


@pytest.mark.parametrize("char", LINE_BREAKERS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKERS])
@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_json_lines_keep_a_line_whose_string_holds_a_unicode_line_break(
    sender_client: FlaskClient, conns: Connections, char: str, eol: str
) -> None:
    """An Auth0 log whose user_name holds U+2028 (or kin) is one event, not two broken lines."""
    lines = [
        json.dumps(_log("L1", "auth0|1", f"Ann{char}Lee"), ensure_ascii=False),
        json.dumps(_log("L2", "auth0|2"), ensure_ascii=False),
    ]
    body = eol.join(lines).encode()
    assert char.encode() in body
    answer = sender_client.post("/webhooks/auth0logs", data=body, headers=AUTH0)
    assert answer.status_code == 202, answer.json
    assert [r["status"] for r in answer.json["results"]] == ["accepted", "accepted"]
    assert _jobs(conns) == [["auth0logs", "L1"], ["auth0logs", "L2"]]


def _bulk_line(external_id: str, record_id: str = RID) -> str:
    row = {"source": "userdb", "object": "contacts", "external_id": external_id}
    return json.dumps({**row, "record_id": record_id}, ensure_ascii=False)


@pytest.mark.parametrize("char", LINE_BREAKERS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKERS])
def test_bulk_mappings_number_lines_by_newline_only(admin: FlaskClient, char: str) -> None:
    """A line break inside an external id neither splits its line nor shifts later numbers."""
    odd = f"a{char}b"
    body = "\n".join([_bulk_line(odd), _bulk_line("b-2", "not-a-uuid"), _bulk_line("c-3", RID3)])
    answer = admin.post("/admin/mappings", data=body.encode())
    assert answer.status_code == 200, answer.json
    report = answer.json
    try:
        check_external_id(odd)
        expected = [2]
    except InvalidIdentifier:
        expected = [1, 2]
    assert [e["line"] for e in report["errors"]] == expected
    assert report["linked"] == 3 - len(expected)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("char", LINE_BREAKERS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKERS])
def test_mappings_import_file_numbers_lines_by_newline_only(
    cli: Any, conns: Connections, tmp_path: Path, fmt: str, char: str
) -> None:
    """The CLI reads import files with universal newlines: a U+2028 in a field is no break."""
    odd = f"a{char}b"
    if fmt == "jsonl":
        rows = [_bulk_line(odd), _bulk_line("b-2", "not-a-uuid"), _bulk_line("c-3", RID3)]
    else:
        header = "source,object,external_id,record_id"
        rows = [
            header,
            *(
                f"userdb,contacts,{e},{r}"
                for e, r in [(odd, RID), ("b-2", "not-a-uuid"), ("c-3", RID3)]
            ),
        ]
    path = tmp_path / f"links.{fmt}"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = cli("mappings", "import", "--json", str(path))
    report = json.loads(result.stdout)
    offset = 0 if fmt == "jsonl" else 1
    try:
        check_external_id(odd)
        expected = [2 + offset]
    except InvalidIdentifier:
        expected = [1 + offset, 2 + offset]
    assert [e["line"] for e in report["errors"]] == expected
    assert report["linked"] == 3 - len(expected)


# --- item 7: a cap on the record ids one event carries ---------------------------------


def _std_body(event: str, record_ids: list[str]) -> bytes:
    return json.dumps(
        {"type": "user.deleted", "data": {"id": event, "zeeg_id": record_ids}}
    ).encode()


def _post_std(client: FlaskClient, settings: Settings, body: bytes, msg_id: str) -> Any:
    return client.post("/webhooks/std", data=body, headers=signed(settings, "std", body, msg_id))


def _uuids(n: int) -> list[str]:
    return [f"{i:08x}-1a2b-4c3d-8e9f-0123456789ab" for i in range(n)]


def test_default_cap_is_100_record_ids_per_event(
    client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """101 payload record ids (a 1 MB body holds ~26,000) are refused whole: 422, nothing kept."""
    assert settings.intake.max_record_ids_per_event == 100
    answer = _post_std(client, settings, _std_body("u-1", _uuids(101)), "msg_big")
    assert answer.status_code == 422
    assert answer.json["error"] == "invalid_field"
    assert "at most 100 record ids" in answer.json["message"]
    assert stored_keys(conns) == []
    answer = _post_std(client, settings, _std_body("u-2", _uuids(100)), "msg_full")
    assert answer.status_code == 202, answer.json


def test_configured_cap_refuses_more_and_a_capped_event_is_deleted_by_a_worker(
    sandbox: Sandbox, conns: Connections
) -> None:
    """[intake] max_record_ids_per_event = 3: four ids are 422; three are all deleted."""
    settings = make_settings(sandbox.url, intake={"max_record_ids_per_event": 3})
    client = create_app(settings, redis=conns).test_client()
    rids = sandbox.state.seed("customers", [{}, {}, {}, {}])
    refused = _post_std(client, settings, _std_body("u-1", rids), "msg_4")
    assert (refused.status_code, refused.json["error"]) == (422, "invalid_field")
    assert stored_keys(conns) == []
    accepted = _post_std(client, settings, _std_body("u-2", rids[:3]), "msg_3")
    assert accepted.status_code == 202, accepted.json
    drain(settings, conns)
    assert sorted(sandbox.state.records["customers"]) == [rids[3]]


def test_an_over_cap_event_in_a_batch_is_one_invalid_item(
    conns: Connections, sandbox: Sandbox
) -> None:
    """In an Auth0 batch the over-cap event is refused with its reason; the others are queued."""
    from tests.helpers import sender_settings

    hinted = [{"object": "contacts", "resolve": ["payload:data.details.zeeg_ids", "store"]}]
    settings = sender_settings(auth0logs={"targets": hinted})
    client = create_app(settings, redis=conns).test_client()
    big = _log("L1", "auth0|1")
    big["data"]["details"] = {"zeeg_ids": _uuids(101)}
    body = json.dumps([big, _log("L2", "auth0|2")]).encode()
    answer = client.post("/webhooks/auth0logs", data=body, headers=AUTH0)
    assert answer.status_code == 202, answer.json
    assert [r["status"] for r in answer.json["results"]] == ["invalid", "accepted"]
    assert _jobs(conns) == [["auth0logs", "L2"]]


# --- item 10: free text (reason, by) refused at the boundary, escaped on display --------

# One of each kind that must never reach a trail or a terminal raw.
BAD_TEXT = {
    "newline": "fixed\nFORGED line",
    "carriage-return": "fixed\rover",
    "tab": "a\tb",
    "escape-sequence": "fixed \x1b[2J\x1b[31mred",
    "nul": "a\x00b",
    "del": "a\x7fb",
    "c1-nel": "a\x85b",
    "c1-csi": "a\x9b31mb",
    "bidi-override": "txt.exe\u202egnp",
    "bidi-isolate": "a\u2066b",
    "zero-width-space": "a\u200bb",
    "bom": "a\ufeffb",
    "line-separator": "a\u2028b",
    "paragraph-separator": "a\u2029b",
    "lone-surrogate": "a\ud800b",
}
GOOD_TEXT = "Kundin bat um Löschung — Ticket #12 (ok ✅, 東京, עברית)"

ADMIN_CALLS = {
    "pause": ("/admin/pause", {}),
    "erase": ("/admin/erase", {"source": "userdb", "external_id": "u-1"}),
    "replay": ("/admin/replay", {"source": "userdb"}),
    "requeue": ("/admin/requeue", {"all": True}),
}


def _raw_json(body: dict[str, Any]) -> bytes:
    """JSON as a sender may write it: lone surrogates as \\ud800 escapes, the rest as given."""
    return json.dumps(body).encode()


@pytest.mark.parametrize("kind", sorted(BAD_TEXT))
@pytest.mark.parametrize("field", ["reason", "by"])
@pytest.mark.parametrize("call", sorted(ADMIN_CALLS))
def test_admin_refuses_control_and_format_characters_in_free_text(
    admin: FlaskClient, conns: Connections, call: str, field: str, kind: str
) -> None:
    """400 invalid_request naming the field; nothing is paused, erased or written."""
    path, base = ADMIN_CALLS[call]
    body = {**base, "reason": GOOD_TEXT, field: BAD_TEXT[kind]}
    answer = admin.post(path, data=_raw_json(body), content_type="application/json")
    assert answer.status_code == 400, answer.json
    assert answer.json["error"] == "invalid_request"
    assert f'"{field}"' in answer.json["message"]
    assert "control" in answer.json["message"]
    assert stored_keys(conns) == []


@pytest.mark.parametrize("reason", [5, 1.5, True, ["x"], {"a": 1}])
def test_admin_erase_refuses_a_reason_that_is_not_a_string(
    admin: FlaskClient, conns: Connections, reason: Any
) -> None:
    """str(body["reason"]) used to record 5, True or "['x']" as the reason: now it is a 400."""
    body = {"source": "userdb", "external_id": "u-1", "reason": reason}
    answer = admin.post("/admin/erase", json=body)
    assert answer.status_code == 400, answer.json
    assert (answer.json["error"], '"reason"' in answer.json["message"]) == ("invalid_request", True)
    assert stored_keys(conns) == []


def test_admin_free_text_with_ordinary_unicode_is_recorded(
    admin: FlaskClient, conns: Connections
) -> None:
    """Accents, dashes, emoji and right-to-left scripts are text, not control characters."""
    answer = admin.post("/admin/pause", json={"reason": GOOD_TEXT, "by": "Zoë Ångström"})
    assert answer.status_code == 200, answer.json
    state = pause.state(conns.text)
    assert state is not None
    assert (state.reason, state.by) == (GOOD_TEXT, "admin-api:Zoë Ångström")
    erased = admin.post(
        "/admin/erase", json={"source": "userdb", "external_id": "u-1", "reason": GOOD_TEXT}
    )
    assert erased.status_code == 202, erased.json
    trail = events.trail(conns.text, "userdb", erased.json["event_id"])
    assert [t["reason"] for t in trail if t["what"] == "manual"] == [GOOD_TEXT]


CLI_CALLS = {
    "pause": ["pause", "--reason", "{reason}", "--by", "{by}"],
    "resume": ["resume", "--by", "{by}"],
    "requeue": ["requeue", "--all", "--reason", "{reason}", "--by", "{by}"],
    "replay": ["replay", "--source", "userdb", "--reason", "{reason}", "--by", "{by}"],
    "erase": ["erase", "u-1", "--source", "userdb", "--reason", "{reason}", "--by", "{by}"],
}


CLI_CASES = [
    (c, o) for c, argv in sorted(CLI_CALLS.items()) for o in ("reason", "by") if f"{{{o}}}" in argv
]


@pytest.mark.parametrize(
    "kind", ["newline", "escape-sequence", "c1-nel", "bidi-override", "line-separator"]
)
@pytest.mark.parametrize(("command", "option"), CLI_CASES)
def test_cli_refuses_control_and_format_characters_in_reason_and_by(
    cli: Any, conns: Connections, command: str, option: str, kind: str
) -> None:
    """One line naming the option, exit 1 (as for any bad --by); nothing is written."""
    values = {"reason": GOOD_TEXT, "by": "ana", option: BAD_TEXT[kind]}
    args = [a.format(**values) if a.startswith("{") else a for a in CLI_CALLS[command]]
    result = cli(*args)
    assert result.exit_code == 1, (result.output, repr(result.exception))
    assert result.stderr.startswith(f"zeeg-consumer: --{option} must not contain control")
    assert result.stderr.count("\n") == 1
    assert stored_keys(conns) == []


def test_cli_free_text_with_ordinary_unicode_is_recorded(cli: Any, conns: Connections) -> None:
    """The same text the admin API takes is taken by the CLI."""
    result = cli("pause", "--reason", GOOD_TEXT, "--by", "Zoë")
    assert result.exit_code == 0, result.output
    state = pause.state(conns.text)
    assert state is not None
    assert (state.reason, state.by) == (GOOD_TEXT, "Zoë")


# Values an older version may have stored: they are shown escaped, never raw.
STORED = "ok\x1b[2J\x1b[31mred\nFORGED\u202eevil\u2028x\x85y\x07"
SHOWN = "ok\\x1b[2J\\x1b[31mred\\nFORGED\\u202eevil\\u2028x\\x85y\\x07"


def _assert_escaped(text: str) -> None:
    assert SHOWN in text
    assert not any(c in text for c in "\x1b\u202e\u2028\x85\x07")


def test_status_shows_a_stored_pause_reason_escaped(cli: Any, conns: Connections) -> None:
    """A pause reason and author written by an older version print escaped on one line."""
    pause.pause(conns.text, STORED, 1_700_000_000.0, by=STORED)
    result = cli("status")
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("paused")]
    assert line.count(SHOWN) == 2
    _assert_escaped(result.output)
    again = cli("pause", "--reason", "second")
    assert again.exit_code == 0, again.output
    _assert_escaped(again.output)


def _stored_event(conns: Connections, event_id: str) -> None:
    event = ParsedEvent("userdb", event_id, "contact.deleted", "u-1", None, ("contacts",))
    queue = erasure_queue(conns.raw)
    accept(conns.text, queue, event, now=1e9, dedupe_ttl_days=7, retention_days=30, job_timeout=60)


def test_events_show_prints_stored_trail_text_escaped(cli: Any, conns: Connections) -> None:
    """A trail reason with escapes, a newline and a lone surrogate prints escaped, no crash."""
    _stored_event(conns, "e-1")
    entry = {"at": 1_700_000_001.0, "what": "manual", "by": STORED, "reason": STORED + "\ud800"}
    events.append_trail(conns.text, "userdb", "e-1", entry)
    events.update(conns.text, "userdb", "e-1", last_error=STORED)
    result = cli("events", "show", "userdb", "e-1")
    assert result.exit_code == 0, (result.output, repr(result.exception))
    _assert_escaped(result.output)
    assert SHOWN + "\\ud800" in result.output
    assert "FORGED" not in {line.split()[0] for line in result.output.splitlines() if line}


def test_failed_prints_a_stored_reason_escaped(
    cli: Any, settings: Settings, conns: Connections
) -> None:
    """The failed table and failed show escape an error text holding control characters."""
    from rq import Worker
    from rq.job import Job
    from rq.serializers import JSONSerializer

    _stored_event(conns, "e-2")
    queue = erasure_queue(conns.raw)
    (job,) = Job.fetch_many(queue.get_job_ids(), connection=conns.raw, serializer=JSONSerializer)
    assert job is not None
    events.update(conns.text, "userdb", "e-2", last_error=STORED)
    job.retries_left = 0
    worker = Worker([queue], connection=conns.raw, serializer=JSONSerializer)
    worker.handle_job_failure(job, queue, exc_string="Traceback\nboom\n")
    listed = cli("failed")
    assert listed.exit_code == 0, listed.output
    _assert_escaped(listed.output)
    shown = cli("failed", "show", job.id)
    assert shown.exit_code == 0, shown.output
    _assert_escaped(shown.output)


# --- item 11: the embedded Redis keeps its files private --------------------------------


@pytest.mark.parametrize("fmt", ["array", "lines", "okta"])
def test_a_batch_of_more_than_1000_events_is_refused_whole(
    sender_client: FlaskClient, conns: Connections, fmt: str
) -> None:
    """The existing batch cap (MAX_BATCH = 1000) holds for arrays, JSON lines and Okta."""
    from tests.helpers import okta_body, okta_event

    if fmt == "okta":
        events_ = [okta_event(f"e-{i}", f"00u{i}") for i in range(1001)]
        body, auth = okta_body(*events_), {"Authorization": SENDER_ENV["OKTA_TOKEN"]}
        path = "/webhooks/okta"
    else:
        logs = [json.dumps(_log(f"L{i}", f"auth0|{i}")) for i in range(1001)]
        text = "\n".join(logs) if fmt == "lines" else "[" + ",".join(logs) + "]"
        body, auth, path = text.encode(), AUTH0, "/webhooks/auth0logs"
    headers = {"Content-Type": "application/json", **auth}
    answer = sender_client.post(path, data=body, headers=headers)
    assert answer.status_code == 400, answer.json
    assert answer.json["error"] == "invalid_body"
    assert "at most 1000 events" in answer.json["message"]
    assert stored_keys(conns) == []


def _modes(directory: Path) -> dict[str, str]:
    """Every entry under directory (itself included) with its permission bits in octal."""
    entries = [directory, *sorted(directory.rglob("*"))]
    return {str(p.relative_to(directory.parent)): oct(p.lstat().st_mode & 0o777) for p in entries}


def _wait_for_persistence(client: Any) -> None:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = client.info("persistence")
        busy = ("aof_rewrite_in_progress", "aof_rewrite_scheduled", "rdb_bgsave_in_progress")
        if not any(info[k] for k in busy):
            return
        time.sleep(0.05)
    raise AssertionError("redis did not finish writing its files")


@pytest.mark.parametrize("existing", [False, True], ids=["new-dir", "existing-0755-dir"])
def test_embedded_redis_files_are_private(tmp_path: Path, existing: bool) -> None:
    """AOF, RDB, the AOF directory and the data dir have no group or other bits (0600/0700)."""
    import os

    import redis as redis_lib

    from consumer.devtools import runner

    data_dir = tmp_path / "var" / "redis"
    if existing:  # a directory (and AOF) an older version left readable by all
        (data_dir / "appendonlydir").mkdir(parents=True, mode=0o755)
        data_dir.chmod(0o755)
        (data_dir / "old.rdb").write_bytes(b"")
        (data_dir / "old.rdb").chmod(0o644)
    previous = os.umask(0o022)  # the usual umask, whatever the test runner's is
    sup = runner.Supervisor()
    try:
        url = runner.start_redis(sup, data_dir)
        client = redis_lib.Redis.from_url(url)
        client.set("mapping:userdb:contacts:u-1", "3f2b8c1e-1a2b-4c3d-8e9f-0123456789ab")
        client.bgrewriteaof()
        _wait_for_persistence(client)
        client.save()
        client.set("after", "rewrite")
        client.close()
    finally:
        os.umask(previous)
        sup.shutdown()
    modes = _modes(data_dir)
    assert {"redis/dump.rdb", "redis/appendonlydir"} <= set(modes), modes
    assert any(name.endswith(".aof") for name in modes), modes
    loose = {name: mode for name, mode in modes.items() if int(mode, 8) & 0o077}
    assert loose == {}, modes
    if not existing:  # var/ itself, created here, is private too
        assert oct((tmp_path / "var").stat().st_mode & 0o777) == "0o700"
