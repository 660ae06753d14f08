"""Archiving the audit stream (`audit archive`, the workers' daily run) and verifying a
sequence of archive files and exports offline (`audit verify FILE...`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from consumer import audit_chain, signing
from consumer.errors import ArchiveError
from consumer.ops import audit as au
from consumer.settings import Settings
from consumer.signing import SigningKey
from consumer.store import archive, index
from consumer.store.archive import ARCHIVE_CHECKPOINT

if TYPE_CHECKING:  # only consumer.signing speaks cryptography
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger(__name__)
DAY_MS = archive.DAY_MS


def due_days(r: redis.Redis) -> list[str]:
    """The days before today (UTC) not archived yet, oldest first, from the day after the
    last archived one (or the oldest entry's day before the first archive).

    Today is Redis's: stream ids come from its clock, so a day is archived only once Redis
    can add no more entries to it, whatever the clock of this host says.
    """
    seconds, micros = r.time()
    today = archive.day_start_ms(archive.day_of(int(seconds) * 1000 + int(micros) // 1000))
    last = archive.last_archived(r)
    start = archive.day_start_ms(last) + DAY_MS if last else None
    if start is None:
        oldest = archive.oldest_day(r)
        start = today if oldest is None else archive.day_start_ms(oldest)
    return [archive.day_of(ms) for ms in range(start, today, DAY_MS)]


def archive_due(
    r: redis.Redis, directory: str, now: float, key: SigningKey | None = None
) -> list[dict[str, Any]] | None:
    """Archive every due day into directory, each once, its checkpoint signed with key if
    one is given; None when another process holds the archiving lock."""
    path = Path(directory)
    if not path.is_dir():
        raise ArchiveError(f"archive_dir {directory} is not a directory")
    token = archive.lock(r)
    if token is None:
        return None
    try:
        return [archive_day(r, path, day, now, key) for day in due_days(r)]
    finally:
        archive.unlock(r, token)


def archive_day(
    r: redis.Redis, directory: Path, day: str, now: float, key: SigningKey | None = None
) -> dict[str, Any]:
    """Write one day's entries and its checkpoint (unless the day is marked), then mark it.

    A day without entries is marked with no file: there is nothing in it to prove.
    """
    if archive.is_archived(r, day):
        return {"day": day, "file": None, "entries": 0, "skipped": "already archived"}
    closing: dict[str, Any] = {}
    written = None
    if next(archive.day_entries(r, day, batch=1), None) is not None:
        lines = _lines(r, day, now, key, closing)
        written = str(archive.write_file(directory, archive.file_name(day), lines))
    checkpoint = closing or signing.sign(archive.build_checkpoint("", 0, "", "", now), key)
    archive.mark(r, day, checkpoint)
    log.info("audit archive %s: %d entries in %s", day, checkpoint["entries"], written)
    return {
        "day": day,
        "file": written,
        "entries": checkpoint["entries"],
        "head": checkpoint["head"],
    }


def _lines(
    r: redis.Redis, day: str, now: float, key: SigningKey | None, closing: dict[str, Any]
) -> Iterator[str]:
    """The archive's lines: each entry as the export shows it, then its checkpoint (also put
    in closing, so the marker holds the same one)."""
    first = last = head = ""
    count = 0
    for entry_id, stored in archive.day_entries(r, day):
        first, last, count = first or entry_id, entry_id, count + 1
        head = stored.get("hash", head)
        yield json.dumps(au.export_row(stored), separators=(",", ":")) + "\n"
    closing.update(signing.sign(archive.build_checkpoint(head, count, first, last, now), key))
    yield json.dumps(closing, separators=(",", ":")) + "\n"


def maintain(r: redis.Redis, settings: Settings, now: float) -> None:
    """The workers' part: backfill the indexes a slice at a time until they are complete,
    then archive the due days once a day when [audit] archive_dir is set."""
    for kind in index.KINDS:
        index.backfill(r, kind, settings.intake.event_log_retention_days)
    directory = settings.audit.archive_dir
    yesterday = archive.day_of(int(now * 1000) - DAY_MS)
    if not directory or archive.is_archived(r, yesterday):
        return
    try:
        archive_due(r, directory, now, settings.signing_key)
    except ArchiveError as e:
        # Nothing unarchived is trimmed meanwhile (retention.trim); retried next time.
        log.error("audit archive failed: %s", e)


@dataclass(frozen=True)
class FilesVerdict:
    """What verify_files found over all files: the chain's verdict and where it broke."""

    verdict: audit_chain.Verdict
    archives: int
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when every file's checkpoint closes it and the chain holds across them."""
        return self.problem is None and self.verdict.ok


def verify_files(
    texts: Sequence[tuple[str, str]], anchor: str | None = None, public_key: str | None = None
) -> FilesVerdict:
    """Check archive files and exports (name, text) in the order given as one chain: each
    file's first prev is the previous file's last hash, each checkpoint closes its file
    (and is signed by public_key, if given)."""
    public = None if public_key is None else signing.load_public(public_key)
    rows: list[dict[str, Any]] = []
    where: list[tuple[str, int]] = []
    archives = 0
    for name, text in texts:
        found = au.read_export(text)
        data = [row for row in found if row.get("type") != ARCHIVE_CHECKPOINT]
        archives += len(found) - len(data)
        problem = _checkpoint_problem(name, found, data, public)
        if problem is not None:
            return FilesVerdict(audit_chain.verify(rows, au.render, anchor), archives, problem)
        rows += data
        where += [(name, i + 1) for i in range(len(data))]
    verdict = audit_chain.verify(rows, au.render, anchor)
    if verdict.ok or verdict.row is None:
        return FilesVerdict(verdict, archives)
    name, row = where[verdict.row - 1]
    named = f"{name} row {row}" if len(texts) > 1 else f"row {row}"
    return FilesVerdict(verdict, archives, f"{named}: {verdict.problem}")


def _checkpoint_problem(
    name: str,
    found: list[dict[str, Any]],
    data: list[dict[str, Any]],
    public: Ed25519PublicKey | None,
) -> str | None:
    """Why a file's checkpoint does not close it (entries cut from its end), or None."""
    marks = [i for i, row in enumerate(found) if row.get("type") == ARCHIVE_CHECKPOINT]
    if not marks:
        return None
    if marks != [len(found) - 1]:
        return f"{name}: a checkpoint line that is not the last line"
    mark = found[-1]
    head = str(data[-1].get("hash") or "") if data else ""
    if mark.get("entries") != len(data):
        return (
            f"{name}: the checkpoint counts {mark.get('entries')} entries, the file has {len(data)}"
        )
    if mark.get("head") != head:
        return f"{name}: the checkpoint head is not the hash of its last entry"
    problem = None if public is None else signing.problem(mark, public)
    return None if problem is None else f"{name}: checkpoint: {problem}"
