"""Log configuration for every entry point: one line per record, as text or as JSON.

LOG_FORMAT=json (read by consumer.settings.load.log_format) makes each line one JSON object
with ts (ISO 8601 UTC), level, logger, msg, process and, where a call passes them as extra=,
the event fields below. text (the default) is the same record readable by a person. The web
server's error and access logs use the same formatters (consumer.web.server).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("text", "json")
# What a log call about one event passes as extra=: identifiers and outcomes, never values.
EVENT_FIELDS = ("source", "event_id", "job_id", "outcome")


def iso(ts: float) -> str:
    """An epoch time as ISO 8601 UTC with milliseconds and a Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The event fields a log call passed as extra= (those it did not pass are left out)."""
    found = {}
    for name in EVENT_FIELDS:
        value = getattr(record, name, None)
        if value is not None and value != "":
            found[name] = value
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (json.dumps escapes every newline)."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object: ts, level, logger, msg, process and event fields."""
        entry: dict[str, Any] = {
            "ts": iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "process": self.process,
            **event_fields(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """A readable line: time (UTC), level, process, logger, message, then key=value fields."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (a traceback, if any, follows on its own lines)."""
        fields = " ".join(f"{k}={v}" for k, v in event_fields(record).items())
        line = (
            f"{iso(record.created)} {record.levelname} {self.process} {record.name}: "
            f"{record.getMessage()}"
        )
        if fields:
            line += f" [{fields}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def formatter(fmt: str, process: str) -> logging.Formatter:
    """The formatter of fmt ("text" or "json") for lines of the named process."""
    return JsonFormatter(process) if fmt == "json" else TextFormatter(process)


def configure(
    fmt: str, process: str, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Send every logger's records to stderr (or stream) as fmt, replacing earlier handlers.

    RQ and gunicorn add their own handlers only where no handler takes a record already, so
    theirs go through this one too.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt, process))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)


def json_configured() -> bool:
    """Whether configure() set this process's logs to JSON (a service command under
    LOG_FORMAT=json), so its last words must be a JSON record too."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)


def fields(
    source: str | None = None,
    event_id: str | None = None,
    job_id: str | None = None,
    outcome: str | None = None,
) -> dict[str, str]:
    """The extra= of a log call about one event: its identifiers and outcome, as given."""
    given = {"source": source, "event_id": event_id, "job_id": job_id, "outcome": outcome}
    return {k: v for k, v in given.items() if v}
