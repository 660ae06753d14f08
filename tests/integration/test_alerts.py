"""Alerts to a real local HTTP receiver: one per incident across workers, retried, never leaked."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rq.registry import FailedJobRegistry

from consumer.alerts import Sender, Watcher, evaluate
from consumer.alerts.evaluate import Alert
from consumer.devtools.sandbox import Sandbox
from consumer.errors import ConfigError
from consumer.queue import erasure_queue
from consumer.settings import Settings, settings_from_dict
from consumer.store import alerts, keys, pause
from consumer.store.connection import Connections
from tests.helpers import RedisServer, cli_env, free_port, write_config
from tests.workers import Workers, accept_mapped, all_done, wait_until

SECRET_PATH = "/hooks/T0PSECRET-4a7f9c"  # the URL's path is its credential, as with Slack
ENV = "ALERT_WEBHOOK_URL"


class Receiver:
    """A threaded HTTP server that records every JSON body POSTed to it and answers status."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        received, owner = self.bodies, self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{SECRET_PATH}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kinds(self) -> list[tuple[str, str]]:
        """(kind, state) of each alert received, in order (json format bodies)."""
        return [(b["kind"], b["state"]) for b in self.bodies]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _alerting(settings: Settings, url: str, **more: Any) -> Settings:
    """settings with [alerts] on (json format, no backoff wait) and the URL as given."""
    fields = {"webhook_url_env": ENV, "format": "json", "webhook_url": url, **more}
    return dataclasses.replace(settings, alerts=dataclasses.replace(settings.alerts, **fields))


def _watcher(settings: Settings, conns: Connections, url: str, **more: Any) -> Watcher:
    alerting = _alerting(settings, url, **more)
    sender = Sender(conns.text, alerting.alerts, sleep=lambda s: None)
    return Watcher(conns.text, erasure_queue(conns.raw), alerting, sender=sender)


def test_a_pause_alerts_once_however_many_evaluate_and_its_resume_once(
    settings: Settings, conns: Connections
) -> None:
    """Eight concurrent evaluations of one pause: one firing alert; the resume: one recovery."""
    queue = erasure_queue(conns.raw)
    pause.pause(conns.text, "Zeeg answered 401: check ZEEG_API_TOKEN", time.time())
    found: list[Alert] = []

    def one() -> None:
        found.extend(evaluate(conns.text, queue, settings, time.time()))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [(a.kind, a.state) for a in found] == [("paused", "firing")]
    assert found[0].details["cause"] == "auth" and "401" in found[0].text
    assert evaluate(conns.text, queue, settings, time.time()) == []
    conns.text.delete("zc:pause")
    (resumed,) = evaluate(conns.text, queue, settings, time.time())
    assert (resumed.kind, resumed.state) == ("paused", "resolved")
    assert evaluate(conns.text, queue, settings, time.time()) == []


def test_an_operator_pause_names_who_paused(settings: Settings, conns: Connections) -> None:
    """A pause by an operator is an alert of cause operator, naming them."""
    pause.pause(conns.text, "Zeeg maintenance", time.time(), by="alice")
    (alert,) = evaluate(conns.text, erasure_queue(conns.raw), settings, time.time())
    assert alert.details["cause"] == "operator" and "by alice" in alert.text


def test_sla_risk_alerts_when_the_count_rises_past_zero_and_recovers_at_zero(
    settings: Settings, conns: Connections
) -> None:
    """Events pending past sla_hours: one alert while any is; one recovery back at none."""
    queue, now = erasure_queue(conns.raw), time.time()
    conns.text.zadd("zc:pending", {"userdb\nold-1": now - 80 * 3600})
    (alert,) = evaluate(conns.text, queue, settings, now)
    assert (alert.kind, alert.state, alert.details["at_risk"]) == ("sla_risk", "firing", 1)
    conns.text.zadd("zc:pending", {"userdb\nold-2": now - 79 * 3600})
    assert evaluate(conns.text, queue, settings, now) == []  # still one incident
    conns.text.delete("zc:pending")
    (done,) = evaluate(conns.text, queue, settings, now)
    assert (done.kind, done.state) == ("sla_risk", "resolved")


def test_a_429_hold_alerts_only_past_hold_minutes(settings: Settings, conns: Connections) -> None:
    """A short hold is quiet; one that lasts past hold_minutes alerts, and its end recovers."""
    queue, now = erasure_queue(conns.raw), 1_000_000.0
    s = _alerting(settings, "http://127.0.0.1:9/", hold_minutes=2.0)
    pause.hold_until(conns.text, now + 30, now)
    assert evaluate(conns.text, queue, s, now) == []
    pause.hold_until(conns.text, now + 200, now + 20)  # held since now, until 200 s later
    (alert,) = evaluate(conns.text, queue, s, now + 20)
    assert (alert.kind, alert.state) == ("rate_limited", "firing")
    assert evaluate(conns.text, queue, s, now + 60) == []
    (over,) = evaluate(conns.text, queue, s, now + 300)
    assert (over.kind, over.state) == ("rate_limited", "resolved")


def test_each_job_failed_for_good_alerts_once(settings: Settings, conns: Connections) -> None:
    """The cursor hands each failed job to one evaluation: one alert sums up what is new."""
    queue = erasure_queue(conns.raw)
    registry = "rq:failed:zc-erasure"
    score = int(time.time()) + 1000
    conns.text.zadd(registry, {"job-a": score, "job-b": score})
    (alert,) = evaluate(conns.text, queue, settings, time.time())
    assert (alert.kind, alert.details["count"]) == ("failed", 2)
    assert evaluate(conns.text, queue, settings, time.time()) == []
    conns.text.zadd(registry, {"job-c": score})  # same second as the ones already alerted
    (again,) = evaluate(conns.text, queue, settings, time.time())
    assert again.details["count"] == 1 and "job-c" in again.text


def test_alerts_reach_the_receiver_as_json_and_slack(
    settings: Settings, conns: Connections, receiver: Receiver
) -> None:
    """format json: text plus kind, state and details; format slack: exactly {"text"}."""
    pause.pause(conns.text, "Zeeg answered 401", time.time())
    watcher = _watcher(settings, conns, receiver.url)
    watcher()
    watcher.sender.flush()
    (body,) = receiver.bodies
    assert body["kind"] == "paused" and body["state"] == "firing" and "PAUSED" in body["text"]
    assert body["details"]["reason"] == "Zeeg answered 401"
    conns.text.delete("zc:pause")
    slack = _watcher(settings, conns, receiver.url, format="slack")
    slack()
    slack.sender.flush()
    assert list(receiver.bodies[1]) == ["text"] and "RESUMED" in receiver.bodies[1]["text"]
    recent = alerts.recent(conns.text, 10)
    assert [(e["kind"], e["state"], e["delivered"]) for e in recent] == [
        ("paused", "resolved", True),
        ("paused", "firing", True),
    ]
    assert set(recent[0]) == {"ts", "kind", "state", "text", "delivered"}


def test_recent_keeps_the_last_fifty(conns: Connections) -> None:
    """LPUSH + LTRIM: newest first, at most 50 kept."""
    for i in range(55):
        alerts.remember(conns.text, {"ts": float(i), "kind": "test", "state": "firing"})
    kept = alerts.recent(conns.text, 100)
    assert len(kept) == 50 and kept[0]["ts"] == 54.0
    assert alerts.recent(conns.text, 2) == kept[:2]


def test_a_refused_alert_is_retried_logged_without_the_url_and_counted(
    settings: Settings, conns: Connections, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A 503 receiver: every attempt made and logged, delivered false, counted as failed."""
    receiver.status = 503
    pause.pause(conns.text, "Zeeg answered 401", time.time())
    watcher = _watcher(settings, conns, receiver.url, attempts=3)
    watcher()
    watcher.sender.flush()
    assert len(receiver.bodies) == 3
    assert alerts.recent(conns.text, 1)[0]["delivered"] is False
    counters = conns.text.hgetall("zc:metrics")
    assert counters['zeeg_consumer_alerts_total{kind="paused",result="failed"}'] == "1"
    assert "attempt 3 of 3 failed: the webhook answered 503" in caplog.text
    assert SECRET_PATH not in caplog.text and "127.0.0.1" not in caplog.text


def test_alert_settings_take_the_url_from_the_named_variable_and_never_echo_it() -> None:
    """Off by default; on with the variable set; a missing or bad URL is named, not quoted."""
    raw = {"alerts": {"webhook_url_env": ENV}}
    assert settings_from_dict({}, {}, "t").alerts.webhook_url is None
    on = settings_from_dict(raw, {ENV: "https://hooks.example.test" + SECRET_PATH}, "t")
    assert on.alerts.webhook_url == "https://hooks.example.test" + SECRET_PATH
    assert SECRET_PATH not in repr(on)
    with pytest.raises(ConfigError, match=f"{ENV} .*is not set"):
        settings_from_dict(raw, {}, "t")
    with pytest.raises(ConfigError, match=f"{ENV}: must be an http") as e:
        settings_from_dict(raw, {ENV: "ftp:" + SECRET_PATH}, "t")
    assert SECRET_PATH not in str(e.value)
    with pytest.raises(ConfigError, match="format: must be one of slack, json"):
        settings_from_dict({"alerts": {"format": "teams"}}, {}, "t")


def _workers(tmp_path: Path, redis_server: RedisServer, sandbox: Sandbox, url: str) -> Workers:
    procs = Workers(
        tmp_path, redis_server.url, sandbox, alerts={"webhook_url_env": ENV, "format": "json"}
    )
    procs.env[ENV] = url
    return procs


def test_workers_send_one_alert_for_a_401_pause_and_one_for_its_resume(
    tmp_path: Path,
    redis_server: RedisServer,
    sandbox: Sandbox,
    settings: Settings,
    conns: Connections,
    receiver: Receiver,
) -> None:
    """Three real workers, Zeeg answering 401: one paused alert; the token fixed: one resumed."""
    sandbox.state.set_faults(always={"status": 401})
    accept_mapped(settings, conns.text, conns.raw, sandbox, 3)
    procs = _workers(tmp_path, redis_server, sandbox, receiver.url)
    try:
        procs.start(3)
        wait_until(lambda: receiver.kinds() == [("paused", "firing")], 30, procs.logs())
        time.sleep(2.0)  # a few more maintenance rounds on every worker: still one alert
        assert receiver.kinds() == [("paused", "firing")]
        sandbox.state.set_faults(always=None)
        wait_until(all_done(conns.text, 3), 30, "all done\n" + procs.logs())
        wait_until(lambda: len(receiver.bodies) >= 2, 30, procs.logs())
        time.sleep(2.0)
        assert receiver.kinds() == [("paused", "firing"), ("paused", "resolved")]
    finally:
        procs.stop()
    assert receiver.bodies[0]["details"]["cause"] == "auth"
    logs = procs.logs()
    assert "alert paused firing sent" in logs
    assert SECRET_PATH not in logs and receiver.url not in logs


def test_deliveries_go_on_while_the_receiver_is_down(
    tmp_path: Path,
    redis_server: RedisServer,
    sandbox: Sandbox,
    settings: Settings,
    conns: Connections,
) -> None:
    """No one listens at the URL: the alert is retried and logged; the events still get done."""
    url = f"http://127.0.0.1:{free_port()}{SECRET_PATH}"
    conns.text.zadd("rq:failed:zc-erasure", {"job-old": int(time.time()) + 1000})
    accept_mapped(settings, conns.text, conns.raw, sandbox, 5)
    procs = _workers(tmp_path, redis_server, sandbox, url)
    try:
        procs.start(1)
        wait_until(all_done(conns.text, 5), 30, "all done\n" + procs.logs())
        wait_until(lambda: "could not be sent" in procs.logs(), 30, procs.logs())
    finally:
        procs.stop()
    logs = procs.logs()
    assert "alert failed firing: attempt 1 of 3 failed: ConnectionError" in logs
    assert "attempt 3 of 3 failed" in logs
    assert SECRET_PATH not in logs and url not in logs
    assert alerts.recent(conns.text, 1)[0]["delivered"] is False


def _alerts_test(tmp_path: Path, redis_server: RedisServer, url: str) -> Any:
    config = write_config(tmp_path / "consumer.toml", alerts={"webhook_url_env": ENV})
    env = {**os.environ, **cli_env(config, "http://127.0.0.1:9/v2", redis_server.url), ENV: url}
    argv = [sys.executable, "-m", "consumer", "alerts", "test"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_alerts_test_sends_one_test_alert(
    tmp_path: Path, redis_server: RedisServer, conns: Connections, receiver: Receiver
) -> None:
    """`zeeg-consumer alerts test`: one {"text"} at the receiver, recorded; the URL not shown."""
    done = _alerts_test(tmp_path, redis_server, receiver.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "test alert sent"
    (body,) = receiver.bodies
    assert list(body) == ["text"] and "test alert" in body["text"]
    assert alerts.recent(conns.text, 1)[0]["kind"] == "test"
    assert SECRET_PATH not in done.stdout + done.stderr


def test_alerts_test_fails_when_the_webhook_refuses(
    tmp_path: Path, redis_server: RedisServer, conns: Connections, receiver: Receiver
) -> None:
    """A webhook answering 404 (a wrong URL): not retried, exit 1, the URL not shown."""
    receiver.status = 404
    done = _alerts_test(tmp_path, redis_server, receiver.url)
    assert done.returncode == 1 and "could not be sent" in done.stderr
    assert "attempt 1 of 3 failed: the webhook answered 404" in done.stderr
    assert len(receiver.bodies) == 1 and SECRET_PATH not in done.stderr


def test_alert_keys_are_these_literal_strings(conns: Connections) -> None:
    """Our alert keys, and RQ's own name for the failed registry the cursor walks."""
    assert keys.ALERTS_RECENT == "zc:alerts:recent"
    assert keys.ALERTS_INCIDENTS == "zc:alerts:incidents"
    assert keys.ALERTS_HOLD_SINCE == "zc:alerts:hold_since"
    assert keys.ALERTS_FAILED_CURSOR == "zc:alerts:failed:cursor"
    assert keys.ALERTS_FAILED_AT_CURSOR == "zc:alerts:failed:at_cursor"
    assert keys.ALERTS_UNSENT == "zc:alerts:unsent"
    assert FailedJobRegistry(queue=erasure_queue(conns.raw)).key == keys.RQ_FAILED


def test_an_alert_the_webhook_did_not_take_is_sent_by_a_later_evaluation_once(
    settings: Settings, conns: Connections, receiver: Receiver
) -> None:
    """The receiver down: the pause alert is kept; up again: the next evaluation sends it,
    marked delayed with its time, once; the one after sends nothing more."""
    receiver.status = 503
    pause.pause(conns.text, "Zeeg answered 401", time.time())
    watcher = _watcher(settings, conns, receiver.url, attempts=1)
    watcher()
    watcher.sender.flush()
    assert receiver.kinds() == [("paused", "firing")]
    receiver.status = 200
    watcher()
    watcher.sender.flush()
    assert receiver.kinds() == [("paused", "firing")] * 2
    assert receiver.bodies[1]["text"].startswith("[delayed from 20")
    assert alerts.recent(conns.text, 1)[0]["delivered"] is True
    watcher()
    watcher.sender.flush()
    assert len(receiver.bodies) == 2 and conns.text.llen(keys.ALERTS_UNSENT) == 0


def test_a_kept_alert_older_than_a_day_or_unreadable_is_dropped_not_sent(
    settings: Settings, conns: Connections, receiver: Receiver
) -> None:
    """A day-old unsent alert and a hand-edited entry are dropped; the evaluation goes on."""
    old = {"kind": "paused", "state": "firing", "text": "t", "ts": time.time() - 90000}
    alerts.keep_unsent(conns.text, {**old, "details": {}})
    conns.text.rpush(keys.ALERTS_UNSENT, "not json", '{"kind": "paused"}')
    watcher = _watcher(settings, conns, receiver.url)
    watcher()
    watcher.sender.flush()
    assert receiver.bodies == [] and conns.text.llen(keys.ALERTS_UNSENT) == 0
