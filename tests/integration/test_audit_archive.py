"""Audit archives on real Redis: entries past retention are archived, then trimmed, and the
archives and the rest verify as one chain; two workers archive a day once; a directory that
cannot be written is a clear error and nothing is trimmed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from consumer.cli import main
from consumer.delivery.worker import make_worker
from consumer.errors import ArchiveError
from consumer.models import Event, Outcome
from consumer.ops import archive as ar
from consumer.ops.audit import export
from consumer.queue import erasure_queue
from consumer.store import archive, audit, index, keys, retention
from consumer.store.connection import Connections, connect
from tests.helpers import cli_env, make_settings, write_config

DAY_MS = 86_400_000
NOW_MS = int(time.time() * 1000)


def _entry_at(conns: Connections, ms: int, n: int) -> None:
    """One chained audit entry (audit.append, index.add_audit) with the stream id ms-0: what
    a worker wrote that day (Redis's clock cannot be set back, the id can)."""
    event = Event("userdb", f"e-{n}", "contact.deleted", f"u-{n}", ms / 1000, ("contacts",))
    outcome = Outcome("contacts", "deleted", f"00000000-0000-0000-0000-{n:012d}", 200)
    pipe = conns.text.pipeline()
    pipe.multi()
    audit.append(pipe, event, outcome, ms / 1000, audit.head(conns.text))
    index.add_audit(pipe, event, outcome)
    for i, (args, options) in enumerate(pipe.command_stack):
        if args[0] == "XADD":
            pipe.command_stack[i] = ((*args[:2], f"{ms}-0", *args[3:]), options)
    pipe.execute()


@pytest.fixture
def history(conns: Connections) -> list[int]:
    """Entries on three days past a 400-day retention and two days within it."""
    days = [NOW_MS - d * DAY_MS for d in (420, 410, 405, 20, 2)]
    for n, ms in enumerate(days):
        _entry_at(conns, ms, 2 * n)
        _entry_at(conns, ms + 1000, 2 * n + 1)
    return days


def _run(tmp_path: Path, redis_url: str, *args: str, archive_dir: Path) -> Any:
    config = write_config(tmp_path / "c.toml", audit={"archive_dir": str(archive_dir)})
    env = cli_env(config, "http://127.0.0.1:9/v2", redis_url)
    return CliRunner().invoke(main, list(args), env=env)


def test_archive_then_trim_keeps_one_verifiable_chain(
    conns: Connections, history: list[int], tmp_path: Path, redis_server: Any
) -> None:
    """`audit archive` writes one file per day with its checkpoint; trim then drops the entries
    past retention; the archives, then an export of the rest, verify as one chain."""
    out = tmp_path / "archives"
    out.mkdir()
    result = _run(tmp_path, redis_server.url, "audit", "archive", "--json", archive_dir=out)
    assert result.exit_code == 0, result.output
    written = [d for d in json.loads(result.stdout) if d["file"]]
    assert [d["entries"] for d in written] == [2, 2, 2, 2, 2]
    files = sorted(out.glob("audit-*.jsonl"))
    assert [f.name for f in files] == [f"audit-{archive.day_of(ms)}.jsonl" for ms in history]
    last = json.loads(files[0].read_text().splitlines()[-1])
    first_two = [json.loads(line) for line in files[0].read_text().splitlines()[:2]]
    assert last == {
        "type": "archive-checkpoint",
        "head": first_two[1]["hash"],
        "entries": 2,
        "first_id": f"{history[0]}-0",
        "last_id": f"{history[0] + 1000}-0",
        "created_at": last["created_at"],
        "signed": False,  # no AUDIT_SIGNING_KEY in this environment
    }
    removed = retention.trim(conns.text, time.time(), 30, 400, archiving=True)
    assert removed["audit"] == 6 and conns.text.xlen(keys.AUDIT) == 4
    rest = tmp_path / "rest.jsonl"
    rest.write_text("".join(export(conns.text, "jsonl", None, None)))
    anchor = str(conns.text.get(keys.AUDIT_ANCHOR))
    # The anchor is the last trimmed entry: the head of the third archive.
    assert anchor == json.loads(files[2].read_text().splitlines()[-1])["head"]
    paths = [str(f) for f in files[:3]] + [str(rest)]
    one = _run(tmp_path, redis_server.url, "audit", "verify", str(files[0]), archive_dir=out)
    assert one.exit_code == 0 and "ok: 2 chained entries" in one.stdout, one.output
    ok = _run(tmp_path, redis_server.url, "audit", "verify", *paths, archive_dir=out)
    assert ok.exit_code == 0, ok.output
    assert "ok: 10 chained entries" in ok.stdout
    after = _run(
        tmp_path,
        redis_server.url,
        "audit",
        "verify",
        "--anchor",
        anchor,
        str(rest),
        archive_dir=out,
    )
    assert after.exit_code == 0, after.output


def test_verify_names_the_file_and_row_of_a_break_and_a_cut_tail(
    conns: Connections, history: list[int], tmp_path: Path, redis_server: Any
) -> None:
    """A file left out, or the last entry of a file cut before its checkpoint, is named."""
    out = tmp_path / "a"
    out.mkdir()
    assert ar.archive_due(conns.text, str(out), time.time()) is not None
    files = sorted(out.glob("audit-*.jsonl"))
    gap = _run(
        tmp_path, redis_server.url, "audit", "verify", str(files[0]), str(files[2]), archive_dir=out
    )
    assert gap.exit_code == 1
    assert f"{files[2]} row 1:" in gap.stderr and "removed" in gap.stderr
    lines = files[1].read_text().splitlines()
    files[1].write_text("\n".join([lines[0], lines[2]]) + "\n")
    cut = _run(
        tmp_path, redis_server.url, "audit", "verify", str(files[0]), str(files[1]), archive_dir=out
    )
    assert cut.exit_code == 1 and "checkpoint counts 2 entries, the file has 1" in cut.stderr


def test_without_archives_trim_keeps_every_unarchived_entry(
    conns: Connections, history: list[int]
) -> None:
    """Archiving on and nothing archived yet: no audit entry is trimmed (the event log is)."""
    assert retention.trim(conns.text, time.time(), 30, 400, archiving=True)["audit"] == 0
    assert conns.text.xlen(keys.AUDIT) == 10
    assert retention.trim(conns.text, time.time(), 30, 400)["audit"] == 6  # archiving off


def test_two_workers_archiving_at_once_write_each_file_once(
    conns: Connections, history: list[int], tmp_path: Path, redis_server: Any
) -> None:
    """Two real workers' maintenance at the same moment: one archives, the other skips; a
    later run writes nothing new; each day is marked once."""
    out = tmp_path / "a"
    out.mkdir()
    settings = make_settings(env={"REDIS_URL": redis_server.url}, audit={"archive_dir": str(out)})
    workers = []
    for _ in range(2):
        c = connect(redis_server.url)
        workers.append(make_worker(settings, erasure_queue(c.raw), text=c.text))
    start = threading.Barrier(2)

    def run(w: Any) -> None:
        start.wait()
        w.run_maintenance_tasks()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    files = sorted(out.glob("*"))
    assert [f.name for f in files] == [f"audit-{archive.day_of(ms)}.jsonl" for ms in history]
    stamps = [f.stat().st_mtime_ns for f in files]
    assert ar.archive_due(conns.text, str(out), time.time()) == []
    assert [f.stat().st_mtime_ns for f in files] == stamps
    assert archive.last_archived(conns.text) == archive.day_of(NOW_MS - DAY_MS)
    # The next hourly trim (the loser of the race may have taken this hour's before the
    # files were written, trimming no audit entry) drops the three archived days past 400.
    conns.text.delete(keys.TRIMMED)
    workers[0].run_maintenance_tasks()
    assert conns.text.xlen(keys.AUDIT) == 4


def test_an_existing_archive_with_other_content_is_never_overwritten(
    conns: Connections, history: list[int], tmp_path: Path
) -> None:
    """A file of the day already there with other entries: ArchiveError, kept, not marked."""
    out = tmp_path / "a"
    out.mkdir()
    first = out / archive.file_name(archive.day_of(history[0]))
    first.write_text('{"other": true}\n')
    with pytest.raises(ArchiveError, match="exists with other content"):
        ar.archive_due(conns.text, str(out), time.time())
    assert first.read_text() == '{"other": true}\n'
    assert archive.last_archived(conns.text) is None
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A directory no file can be created in, even by root (immutable when run as root)."""
    path = tmp_path / "ro"
    path.mkdir()
    path.chmod(0o555)
    chattr = shutil.which("chattr") or "chattr"
    immutable = os.geteuid() == 0
    if immutable and subprocess.run([chattr, "+i", str(path)], check=False).returncode != 0:
        pytest.skip("running as root without chattr: no directory is unwritable")
    try:
        yield path
    finally:
        if immutable:
            subprocess.run([chattr, "-i", str(path)], check=False)
        path.chmod(0o755)


def test_an_unwritable_archive_dir_is_a_clear_error_and_nothing_is_trimmed(
    conns: Connections, history: list[int], tmp_path: Path, redis_server: Any, unwritable: Path
) -> None:
    """`audit archive` exits 1 naming the directory; `trim` then keeps every audit entry."""
    result = _run(tmp_path, redis_server.url, "audit", "archive", archive_dir=unwritable)
    assert result.exit_code == 1
    assert f"cannot write archives to {unwritable}" in result.stderr, result.output
    trimmed = _run(tmp_path, redis_server.url, "trim", "--json", archive_dir=unwritable)
    assert json.loads(trimmed.stdout)["audit"] == 0
    assert conns.text.xlen(keys.AUDIT) == 10
    assert archive.last_archived(conns.text) is None


def test_archive_checkpoints_are_signed_with_the_key_and_verify_only_under_it(
    conns: Connections, history: list[int], tmp_path: Path, redis_server: Any
) -> None:
    """With a signing key each archive's checkpoint is signed; verify --public-key accepts
    the key's public half and names the file under another key."""
    from consumer import signing

    out = tmp_path / "a"
    out.mkdir()
    _, key = signing.generate()
    _, other = signing.generate()
    assert ar.archive_due(conns.text, str(out), time.time(), key) is not None
    files = [str(f) for f in sorted(out.glob("audit-*.jsonl"))]
    last = json.loads(Path(files[0]).read_text().splitlines()[-1])
    assert last["signed"] is True and last["signature"]["key_id"] == key.key_id
    args = ("audit", "verify", *files, "--public-key")
    good = _run(tmp_path, redis_server.url, *args, key.public, archive_dir=out)
    assert good.exit_code == 0, good.output
    bad = _run(tmp_path, redis_server.url, *args, other.public, archive_dir=out)
    assert bad.exit_code == 1 and f"{files[0]}: checkpoint:" in bad.stderr, bad.output
