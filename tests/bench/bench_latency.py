"""Webhook-to-deleted-record latency under `zeeg-consumer run --sandbox` (what make run starts).

Starts the all-in-one service in a temporary directory, sends 200 signed test events one after
another (each for a fresh sandbox record), and times from the POST until the sandbox got its
DELETE (the sandbox's request log). Prints p50, p99 and max.

The events are spaced SPACING seconds apart on an idle system, under the shared rate limit
(set to RATE per second here, so the figure is the pipeline's latency, not the bucket's
spacing: at the default 5/s, every event past the burst of 5 waits ~200 ms for its token).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from consumer import sources
from consumer.settings import sandbox_source
from consumer.sources.testevent import build_event
from tests.bench import wait_for_ok
from tests.helpers import free_port

EVENTS = 200
SPACING = 0.05
RATE = 100


def _wait_ready(url: str) -> None:
    wait_for_ok(f"{url}/readyz", every=0.1, failure=RuntimeError("service did not become ready"))


def _one(info: dict[str, str], n: int) -> float:
    root = info["sandbox_url"].removesuffix("/v2")
    seeded = requests.post(
        f"{root}/_sandbox/records", json={"object": "contacts", "records": [{}]}, timeout=5
    ).json()["ids"][0]
    src = sandbox_source(info["secret"])
    now = int(time.time())
    body = json.dumps(build_event(src, f"bench-{n}", f"ext-{n}", now, seeded)).encode()
    headers = {
        "Content-Type": "application/json",
        **sources.sign_headers(src, body, f"bench-{n}-{now}", now),
    }
    started = time.time()
    answer = requests.post(
        f"{info['web_url']}/webhooks/sandbox", data=body, headers=headers, timeout=5
    )
    assert answer.status_code == 202, answer.text
    # Poll gently (a busy poller would slow the worker it times); the time is the sandbox's
    # own record of when the DELETE arrived, so the polling interval does not count.
    while True:
        listed = requests.get(f"{root}/_sandbox/records?object=contacts", timeout=5).json()
        if all(r["id"] != seeded for r in listed):
            break
        if time.time() - started > 30:
            raise RuntimeError("record not deleted within 30 s")
        time.sleep(0.02)
    log = requests.get(f"{root}/_sandbox/requests", timeout=5).json()
    requests.delete(f"{root}/_sandbox/requests", timeout=5)
    (at,) = [e["at"] for e in log if e["method"] == "DELETE" and e["path"].endswith(seeded)]
    return float(at) - started


def main() -> dict[str, float]:
    """Print and return the latency figures."""
    with tempfile.TemporaryDirectory() as tmp:
        port, sandbox_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("ZEEG_API_TOKEN", "REDIS_URL")}
        config = Path(tmp) / "consumer.toml"
        config.write_text(f"[zeeg]\nrate_limit_per_second = {RATE}\nburst = 10\n")
        env["CONSUMER_CONFIG"] = str(config)
        argv = [
            sys.executable,
            "-m",
            "consumer",
            "run",
            "--sandbox",
            "--port",
            str(port),
            "--sandbox-port",
            str(sandbox_port),
        ]
        proc = subprocess.Popen(
            argv, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}")
            info = json.loads((Path(tmp) / "var" / "sandbox.json").read_text())
            times = []
            for n in range(EVENTS):
                started = time.monotonic()
                times.append(_one(info, n))
                time.sleep(max(0.0, SPACING - (time.monotonic() - started)))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
    ms = sorted(t * 1000 for t in times)
    found = {
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[int(0.99 * len(ms)) - 1],
        "max_ms": ms[-1],
        "min_ms": ms[0],
    }
    print(f"webhook -> record deleted, {EVENTS} events {SPACING} s apart, run --sandbox:")
    print("  " + "   ".join(f"{k.removesuffix('_ms')} {v:.1f} ms" for k, v in found.items()))
    return found


if __name__ == "__main__":
    main()
