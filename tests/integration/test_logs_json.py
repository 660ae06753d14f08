"""LOG_FORMAT=json: every line of `run`, its web (gunicorn) and worker is one JSON object."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from consumer.store.connection import Connections
from tests.helpers import (
    ADMIN_TOKEN,
    HMAC_SECRET,
    STD_SECRET,
    RedisServer,
    free_port,
    make_settings,
    signed,
    userdb_body,
    write_config,
)
from tests.workers import wait_ready

EMAIL = "jane.doe@example.com"
BODY_VALUE = "Jane-Doe-Body-Value"  # a field of the webhook body: no log line may quote it
WRONG_SIGNATURE = "0" * 64


def _flow(url: str, admin: dict[str, str]) -> str:
    """A webhook that ends done, a refused signature and admin calls; returns the event id."""
    settings = make_settings()
    body = userdb_body("evt-json-1", EMAIL, name=BODY_VALUE)
    answer = requests.post(
        f"{url}/webhooks/userdb", data=body, headers=signed(settings, "userdb", body), timeout=10
    )
    assert answer.status_code == 202, answer.text
    bad = {"Content-Type": "application/json", "X-Signature": WRONG_SIGNATURE}
    assert (
        requests.post(f"{url}/webhooks/userdb", data=body, headers=bad, timeout=10).status_code
        == 401
    )
    deadline = time.monotonic() + 30
    status: Any = None
    while time.monotonic() < deadline and status != "done":
        event = requests.get(f"{url}/admin/events/userdb/evt-json-1", headers=admin, timeout=10)
        status = event.json().get("status") if event.status_code == 200 else None
        time.sleep(0.1)
    assert status == "done"
    mapping = requests.get(
        f"{url}/admin/mappings/userdb/contacts/{EMAIL}?q={EMAIL}", headers=admin, timeout=10
    )
    assert mapping.status_code in (200, 404)
    assert requests.get(f"{url}/admin/status", headers=admin, timeout=10).status_code == 200
    return "evt-json-1"


def _run(tmp_path: Path, redis_server: RedisServer) -> tuple[str, dict[str, Any]]:
    """`run --sandbox` under LOG_FORMAT=json through the flow; (its whole output, sandbox.json)."""
    port = free_port()
    config = write_config(tmp_path / "consumer.toml")
    env = {k: v for k, v in os.environ.items() if k not in ("ZEEG_API_TOKEN", "ZEEG_API_BASE_URL")}
    env.update(
        CONSUMER_CONFIG=str(config),
        REDIS_URL=redis_server.url,
        USERDB_SECRET=HMAC_SECRET,
        CLERK_SECRET=STD_SECRET,
        CONSUMER_ADMIN_TOKEN=ADMIN_TOKEN,
        LOG_FORMAT="json",
    )
    argv = [sys.executable, "-m", "consumer", "run", "--sandbox", "--port", str(port)]
    argv += ["--sandbox-port", str(free_port())]
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc)
        _flow(url, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    return output, json.loads((tmp_path / "var" / "sandbox.json").read_text())


def test_json_logs_of_a_whole_flow_parse_line_by_line_and_leak_nothing(
    tmp_path: Path, redis_server: RedisServer, conns: Connections
) -> None:
    """Every line of run, web and worker is JSON with ts/level/logger/msg; event lines carry
    their ids and outcome; no secret, token, body value or e-mail address appears."""
    output, sandbox = _run(tmp_path, redis_server)
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    for line in lines:
        assert {"ts", "level", "logger", "msg"} <= set(line), line
        assert line["ts"].endswith("Z") and line["ts"][10] == "T", line
    assert {line["process"] for line in lines} == {"run", "web", "worker"}
    intake = [ln for ln in lines if ln["logger"] == "consumer.intake"]
    assert intake and intake[0]["source"] == "userdb" and intake[0]["event_id"] == "evt-json-1"
    assert intake[0]["job_id"] and intake[0]["outcome"] == "accepted"
    erased = [ln for ln in lines if ln["logger"] == "consumer.delivery.erasure"]
    assert erased and erased[0]["event_id"] == "evt-json-1" and erased[0]["outcome"]
    assert any(ln["logger"] == "gunicorn.access" and " 401 " in ln["msg"] for ln in lines)
    assert any(
        ln["logger"] == "gunicorn.access" and "/admin/status 200" in ln["msg"] for ln in lines
    )
    for secret in (HMAC_SECRET, ADMIN_TOKEN, sandbox["token"], sandbox["secret"], WRONG_SIGNATURE):
        assert secret not in output
    for value in (EMAIL, BODY_VALUE, "@"):
        assert value not in output
