"""Audit archives: one JSON-lines file per UTC day of audit entries, ending with its
checkpoint, written once across all workers (a lock, a marker per day) and atomically.

Days are days of the stream ids (the time Redis added the entry). The markers in
zc:audit:archived say which days are in a file; retention.trim drops audit entries only up
to the end of the last archived day when archiving is on.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from consumer.errors import ArchiveError
from consumer.store import keys

DAY_MS = 86_400_000
# The type of an archive file's last line (audit-checkpoint is the chain-wide one).
ARCHIVE_CHECKPOINT = "archive-checkpoint"
LOCK_SECONDS = 600
# Fields of a checkpoint a rewrite of the same day may change (the time it was made, and
# whether and how it was signed): two files that differ only there hold the same archive.
VOLATILE = ("created_at", "signed", "signature")


def day_of(ms: int) -> str:
    """The UTC day (YYYY-MM-DD) a time in epoch milliseconds falls on."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def day_start_ms(day: str) -> int:
    """The first millisecond of a UTC day (YYYY-MM-DD)."""
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)


def file_name(day: str) -> str:
    """The archive file of a day."""
    return f"audit-{day}.jsonl"


def build_checkpoint(
    head: str, entries: int, first_id: str, last_id: str, created_at: float
) -> dict[str, Any]:
    """The checkpoint line that closes an archive: the chain head after its last entry
    (consumer.signing signs it when a key is configured)."""
    made = datetime.fromtimestamp(created_at, UTC).isoformat().replace("+00:00", "Z")
    return {
        "type": ARCHIVE_CHECKPOINT,
        "head": head,
        "entries": entries,
        "first_id": first_id,
        "last_id": last_id,
        "created_at": made,
    }


def day_entries(
    r: redis.Redis, day: str, batch: int = 1000
) -> Iterator[tuple[str, dict[str, str]]]:
    """The audit entries of one UTC day, (stream id, fields), in stream order."""
    start, end = day_start_ms(day), day_start_ms(day) + DAY_MS - 1
    low = str(start)
    while True:
        rows: list[tuple[str, dict[str, str]]] = r.xrange(  # type: ignore[assignment]
            keys.AUDIT, low, str(end), count=batch
        )
        yield from rows
        if len(rows) < batch:
            return
        low = "(" + rows[-1][0]


def oldest_day(r: redis.Redis) -> str | None:
    """The day of the oldest audit entry still stored, None if there is none."""
    rows: list[tuple[str, dict[str, str]]] = r.xrange(keys.AUDIT, "-", "+", count=1)  # type: ignore[assignment]
    return day_of(int(rows[0][0].split("-")[0])) if rows else None


def last_archived(r: redis.Redis) -> str | None:
    """The latest day marked archived (days are archived in order), None before the first."""
    days: list[str] = r.hkeys(keys.AUDIT_ARCHIVED)  # type: ignore[assignment]
    return max(days) if days else None


def is_archived(r: redis.Redis, day: str) -> bool:
    """Whether the day's entries are in an archive (or it had none)."""
    return bool(r.hexists(keys.AUDIT_ARCHIVED, day))


def mark(r: redis.Redis, day: str, checkpoint: dict[str, Any]) -> None:
    """Record that the day is archived, with its checkpoint (entries 0: an empty day)."""
    r.hset(keys.AUDIT_ARCHIVED, day, json.dumps(checkpoint, separators=(",", ":")))


def archived_until_ms(r: redis.Redis) -> int:
    """Audit entries with ids before this time (ms) are archived; 0 before the first archive."""
    day = last_archived(r)
    return 0 if day is None else day_start_ms(day) + DAY_MS


def lock(r: redis.Redis) -> str | None:
    """Take the archiving lock (one archiver across all workers); its token, or None if taken."""
    token = uuid.uuid4().hex
    return token if r.set(keys.AUDIT_ARCHIVE_LOCK, token, nx=True, ex=LOCK_SECONDS) else None


_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def unlock(r: redis.Redis, token: str) -> None:
    """Release the lock if it is still ours (it expires on its own if this process dies)."""
    r.eval(_UNLOCK, 1, keys.AUDIT_ARCHIVE_LOCK, token)


def write_file(directory: Path, name: str, lines: Iterable[str]) -> Path:
    """Write lines to directory/name atomically (temp file, fsync, link into place).

    An existing file of the same archive (only VOLATILE checkpoint fields differ) is kept;
    one with other content is never overwritten: ArchiveError.
    """
    target = directory / name
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise ArchiveError(f"cannot write archives to {directory}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        _link_new(Path(temp), target)
    except OSError as e:  # a full disk, a directory gone: the worker logs it and retries
        raise ArchiveError(f"cannot write {target}: {e.strerror}") from e
    finally:
        Path(temp).unlink(missing_ok=True)
    return target


def _link_new(temp: Path, target: Path) -> None:
    """Put temp in place as target unless target exists (a link never replaces a file)."""
    try:
        os.link(temp, target)
    except FileExistsError:
        found = target.read_text(encoding="utf-8", errors="replace")
        if not same_archive(found, temp.read_text(encoding="utf-8")):
            raise ArchiveError(f"{target} exists with other content: not overwritten") from None
        return
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the new name survives a crash too
    finally:
        os.close(dir_fd)


def same_archive(a: str, b: str) -> bool:
    """Whether two archive texts hold the same entries and checkpoint (VOLATILE aside)."""
    return _comparable(a) == _comparable(b)


def _comparable(text: str) -> list[Any]:
    lines = [line for line in text.split("\n") if line.strip()]
    try:
        last = json.loads(lines[-1]) if lines else None
    except ValueError:
        return lines
    if isinstance(last, dict) and last.get("type") == ARCHIVE_CHECKPOINT:
        return [*lines[:-1], {k: v for k, v in last.items() if k not in VOLATILE}]
    return lines
