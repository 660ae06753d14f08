"""send-test-event against preset sources: it waits on the event id the service answered with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store.connection import Connections
from tests.helpers import (
    SENDER_ENV,
    RedisServer,
    drain,
    sender_sources,
    toml_text,
)


def _cli_env(tmp_path: Path, sandbox: Sandbox, redis_server: RedisServer) -> dict[str, str]:
    config = tmp_path / "consumer.toml"
    sources = {f"sources.{name}": body for name, body in sender_sources().items()}
    config.write_text(toml_text(sources), encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if k not in ("ZEEG_API_TOKEN", "REDIS_URL")}
    return {
        **base,
        **SENDER_ENV,
        "CONSUMER_CONFIG": str(config),
        "REDIS_URL": redis_server.url,
        "ZEEG_API_BASE_URL": sandbox.url,
    }


def test_supabase_test_event_waits_on_the_derived_id_and_reports_done(
    tmp_path: Path,
    senders_url: str,
    senders: Settings,
    conns: Connections,
    sandbox: Sandbox,
    redis_server: RedisServer,
) -> None:
    """digest:sha256 source: the event the answer names is followed to done, not "pending"."""
    argv = ["send-test-event", "--source", "supabase", "--url", senders_url, "--json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "consumer", *argv],
        cwd=tmp_path,
        env=_cli_env(tmp_path, sandbox, redis_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(erasure_queue(conns.raw)) == 0 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        drain(senders, conns)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    result = json.loads(out)
    answered = result["response"]["event_id"]
    assert answered.startswith("sha256-")
    assert result["event"]["event_id"] == answered
    assert result["event"]["status"] == "done"
    assert result["event"]["outcomes"] == {"contacts": ["not_mapped"]}


@pytest.mark.parametrize("name", sorted(sender_sources()))
def test_test_event_of_every_preset_source_is_accepted_over_http(
    name: str,
    tmp_path: Path,
    senders_url: str,
    conns: Connections,
    sandbox: Sandbox,
    redis_server: RedisServer,
) -> None:
    """send-test-event signs and shapes a deletion each source accepts (202, one job)."""
    from click.testing import CliRunner

    from consumer.cli import main

    env = _cli_env(tmp_path, sandbox, redis_server)
    argv = ["send-test-event", "--source", name, "--url", senders_url, "--no-wait", "--json"]
    outcome = CliRunner().invoke(main, argv, env=env)
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.output)["http_status"] == 202
    assert len(erasure_queue(conns.raw)) == 1
