"""SPEC §6 for the real zeeg-consumer process: failures are one clear line, --json everywhere."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from consumer.models import Mapping
from consumer.store import mappings
from consumer.store.connection import Connections
from tests.helpers import RedisServer, free_port, write_config

RID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def run_cli(tmp_path: Path, *args: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    """python -m consumer ARGS with a test configuration, as an operator would run it."""
    env = {
        "PATH": "/usr/bin:/bin",
        "CONSUMER_CONFIG": str(write_config(tmp_path / "consumer.toml")),
        "REDIS_URL": redis_url,
        "USERDB_SECRET": "s3cret-userdb-key",
        "CLERK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }
    argv = [sys.executable, "-m", "consumer", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_mappings_commands_without_redis_fail_in_one_line(tmp_path: Path) -> None:
    """mappings get/set/delete/export/import with Redis down: one line and exit 1, no traceback."""
    csv = f"source,object,external_id,record_id\nuserdb,contacts,u,{RID}\n"
    (tmp_path / "m.csv").write_text(csv)
    down = f"redis://127.0.0.1:{free_port()}/0"
    for args in (
        ["mappings", "get", "userdb", "contacts", "u"],
        ["mappings", "set", "userdb", "contacts", "u", RID],
        ["mappings", "delete", "userdb", "contacts", "u"],
        ["mappings", "export"],
        ["mappings", "import", str(tmp_path / "m.csv")],
    ):
        done = run_cli(tmp_path, *args, redis_url=down)
        assert done.returncode == 1, args
        assert done.stderr.splitlines() == ["zeeg-consumer: Redis is unavailable (check REDIS_URL)"]


def test_usage_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    """A missing option, a bad choice or a missing file: one line on stderr, exit 2."""
    down = f"redis://127.0.0.1:{free_port()}/0"
    for args in (
        ["pause"],
        ["requeue", "--reason", "x"],
        ["audit", "export", "--format", "xml"],
        ["mappings", "import", str(tmp_path / "missing.csv")],
        ["no-such-command"],
    ):
        done = run_cli(tmp_path, *args, redis_url=down)
        assert done.returncode == 2, args
        (line,) = done.stderr.splitlines()
        assert line.startswith("zeeg-consumer: ") and "--help" in line, args


def test_help_still_exits_0_through_the_entry_point(tmp_path: Path) -> None:
    """--help on the real process prints usage and exits 0."""
    done = run_cli(tmp_path, "status", "--help", redis_url="redis://127.0.0.1:1/0")
    assert done.returncode == 0
    assert "Usage:" in done.stdout


def test_mappings_export_json_writes_json_lines(
    tmp_path: Path, conns: Connections, redis_server: RedisServer
) -> None:
    """mappings export --json (SPEC §6: every command prints JSON with --json) is JSON lines."""
    mappings.put(conns.text, Mapping("userdb", "contacts", "u-1", RID, 5.0))
    done = run_cli(tmp_path, "mappings", "export", "--json", redis_url=redis_server.url)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert json.loads(line)["record_id"] == RID


def test_sandbox_on_a_taken_port_fails_in_one_line(tmp_path: Path) -> None:
    """sandbox and run --sandbox on a port in use: one line naming it, exit 1, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        live = f"redis://127.0.0.1:{free_port()}/0"  # set, so run starts no embedded Redis
        for args in (["sandbox", "--port", port], ["run", "--sandbox", "--sandbox-port", port]):
            done = run_cli(tmp_path, *args, redis_url=live)
            assert done.returncode == 1, args
            (line,) = [x for x in done.stderr.splitlines() if x.startswith("zeeg-consumer:")]
            assert f"cannot listen on 127.0.0.1:{port}" in line, args
            assert "Traceback" not in done.stderr, args


def test_port_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    """--port 99999 is refused as a usage error (exit 2), not an OverflowError."""
    done = run_cli(tmp_path, "sandbox", "--port", "99999", redis_url="redis://127.0.0.1:1/0")
    assert done.returncode == 2
    assert "99999" in done.stderr and "Traceback" not in done.stderr
