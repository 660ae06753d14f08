"""consumer.logs: the text and JSON line formats, LOG_FORMAT's check, the access log's path."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from consumer import logs
from consumer.errors import ConfigError
from consumer.settings import settings_from_dict
from consumer.settings.load import log_format
from consumer.web.server import logged_path


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger's handlers swapped for one writing to a buffer, restored after."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield io.StringIO()
    root.handlers[:] = saved
    root.setLevel(level)
    logging.captureWarnings(False)


def _emit(stream: io.StringIO, fmt: str) -> str:
    logs.configure(fmt, "worker", stream=stream)
    extra = logs.fields("userdb", "evt-1", "job-1", "deleted")
    logging.getLogger("consumer.test").warning("event %s\nsecond line", "evt-1", extra=extra)
    return stream.getvalue()


def test_json_lines_hold_the_record_and_its_event_fields(captured: io.StringIO) -> None:
    """One JSON object per record (a newline in a message stays escaped), event fields too."""
    (line,) = _emit(captured, "json").splitlines()
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "consumer.test"
    assert entry["msg"] == "event evt-1\nsecond line" and entry["process"] == "worker"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])
    assert (entry["source"], entry["event_id"], entry["job_id"], entry["outcome"]) == (
        "userdb",
        "evt-1",
        "job-1",
        "deleted",
    )


def test_text_lines_are_readable_with_a_utc_timestamp(captured: io.StringIO) -> None:
    """Time, level, process, logger and message, then the event fields as key=value."""
    first = _emit(captured, "text").splitlines()[0]
    assert re.match(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING worker consumer\.test: ", first
    )
    assert (
        _emit(captured, "text")
        .rstrip()
        .endswith("[source=userdb event_id=evt-1 job_id=job-1 outcome=deleted]")
    )


def test_fields_leave_out_what_was_not_given() -> None:
    """A log call passes only the identifiers it has."""
    assert logs.fields("userdb", "evt-1") == {"source": "userdb", "event_id": "evt-1"}


@pytest.mark.parametrize("value", ["xml", "JSONL", "1"])
def test_a_bad_log_format_is_refused_naming_the_variable(value: str) -> None:
    """LOG_FORMAT other than text or json fails the configuration and log_format()."""
    with pytest.raises(ConfigError, match="LOG_FORMAT: must be one of text, json"):
        settings_from_dict({}, {"LOG_FORMAT": value}, "test")
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        log_format({"LOG_FORMAT": value})


def test_log_format_defaults_to_text() -> None:
    """Unset or empty: text; the value is read case-insensitively."""
    assert log_format({}) == "text" and log_format({"LOG_FORMAT": ""}) == "text"
    assert log_format({"LOG_FORMAT": "JSON"}) == "json"


def test_a_worker_with_a_bad_log_format_exits_at_start_naming_it() -> None:
    """The check runs before anything else: one line on stderr, status 1."""
    done = subprocess.run(
        [sys.executable, "-m", "consumer", "worker", "--sandbox"],
        env={"LOG_FORMAT": "xml", "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert "LOG_FORMAT: must be one of text, json" in done.stderr


@pytest.mark.parametrize("command", ["worker", "web", "run"])
def test_a_start_failure_under_json_logs_is_one_json_record(command: str) -> None:
    """LOG_FORMAT=json and a bad setting: the failure is one JSON object on stderr (a log
    collector parses it like every other line), level ERROR, naming the variable; status 1."""
    env = {"LOG_FORMAT": "json", "ZC_DELIVERY__MAX_ATTEMPTS": "many"}
    done = subprocess.run(
        [sys.executable, "-m", "consumer", command, "--sandbox"],
        env={**env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and "ZC_DELIVERY__MAX_ATTEMPTS" in record["msg"]


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/webhooks/userdb", "/webhooks/userdb"),
        ("/admin/mappings/userdb/contacts/jane@example.com", "/admin/mappings/userdb/..."),
        ("/admin/events/userdb/evt-1", "/admin/events/userdb/..."),
        ("/webhooks/a\nb", "/webhooks/a?b"),
        ("/webhooks/" + "x" * 100, "/webhooks/" + "x" * 64),
    ],
)
def test_the_access_log_shows_a_short_printable_path(path: str, shown: str) -> None:
    """At most three segments, each cut short, nothing unprintable (an external id is not)."""
    assert logged_path(path) == shown
