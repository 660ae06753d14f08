"""check and send-test-event: prove the configuration and the pipeline."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import click
import redis
import requests

from consumer import sources
from consumer.cli.common import fail, get_settings
from consumer.cli.output import emit
from consumer.errors import InvalidIdentifier, ZeegError
from consumer.models import EventStatus, check_event_id
from consumer.settings import Settings, sandbox_source
from consumer.sources.testevent import build_event
from consumer.store import events
from consumer.store.connection import connect
from consumer.zeeg.client import ZeegClient


@click.command()
@click.option("--offline", is_flag=True, help="Skip the calls to Zeeg.")
@click.option("--json", "as_json", is_flag=True)
def check(offline: bool, as_json: bool) -> None:
    """Validate the configuration, reach Redis, and prove the Zeeg token on each object."""
    settings = get_settings()
    report: dict[str, Any] = {"config": settings.config_path, "sources": sorted(settings.sources)}
    problems = [
        f"source {s.name}: scheme {s.scheme} has no verifier"
        for s in settings.sources.values()
        if s.scheme not in sources.VERIFIERS
    ]
    try:
        connect(settings.redis_url, settings.redis_sentinel).text.ping()
        report["redis"] = "ok"
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
        problems.append(f"redis unreachable ({type(e).__name__})")
    if not offline:
        report["zeeg"] = _check_zeeg(settings, problems)
    report["problems"] = problems
    emit(report, as_json, None if as_json else _text(report))
    if problems:
        fail("; ".join(problems))


def _check_zeeg(settings: Settings, problems: list[str]) -> dict[str, str]:
    if not settings.zeeg.token:
        problems.append("ZEEG_API_TOKEN is not set")
        return {}
    client = ZeegClient(settings.zeeg)
    objects = sorted({t.object for s in settings.sources.values() for t in s.targets})
    found = {}
    for obj in objects:
        try:
            client.get_object(obj)
            found[obj] = "ok"
        except ZeegError as e:
            found[obj] = str(e)
            problems.append(f"Zeeg object {obj}: {e}")
    return found


def _text(report: dict[str, Any]) -> str:
    lines = [f"config   {report['config']}", f"sources  {', '.join(report['sources']) or '-'}"]
    lines.append(f"redis    {report.get('redis', 'unreachable')}")
    for obj, state in report.get("zeeg", {}).items():
        lines.append(f"zeeg     {obj}: {state}")
    return "\n".join(lines)


@click.command("send-test-event")
@click.option("--source", default="sandbox", show_default=True)
@click.option("--url", help="The service's base URL (default: from var/sandbox.json or PORT).")
@click.option("--external-id", help="Default: a new test-<hex> id.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for the outcome.")
@click.option("--json", "as_json", is_flag=True)
def send_test_event(
    source: str, url: str | None, external_id: str | None, wait: bool, as_json: bool
) -> None:
    """Send one signed deletion; in the sandbox, for a record created first."""
    info = _sandbox_info() if source == "sandbox" else {}
    settings = get_settings()
    src = sandbox_source(info["secret"]) if info else settings.sources.get(source)
    if src is None:
        fail(f"no source named {source!r} (sandbox only exists under `run --sandbox`)")
    url = url or info.get("web_url") or f"http://127.0.0.1:{settings.port}"
    external_id = external_id or f"test-{secrets.token_hex(6)}"
    record_id = _sandbox_record(info, external_id) if info else None
    event_id, now = f"evt_{secrets.token_hex(8)}", int(time.time())
    body = json.dumps(build_event(src, event_id, external_id, now, record_id)).encode()
    headers = {"Content-Type": "application/json", **sources.sign_headers(src, body, event_id, now)}
    try:
        answer = requests.post(f"{url}/webhooks/{source}", data=body, headers=headers, timeout=10)
    except requests.RequestException as e:
        fail(f"cannot reach {url}: {type(e).__name__}")
    try:
        response = answer.json()
    except ValueError:  # a proxy's HTML error page, say
        fail(f"webhook answered {answer.status_code} without a JSON body")
    result = {"http_status": answer.status_code, "response": response, "record_id": record_id}
    if answer.status_code >= 300:
        emit(result, as_json)
        fail(f"webhook answered {answer.status_code}")
    if wait:
        # The service may derive the id (digest:sha256): wait on the one it answered with.
        answered = _answered_id(response) or event_id
        embedded = info.get("redis_url")
        conns = (
            connect(embedded, None)
            if embedded
            else connect(settings.redis_url, settings.redis_sentinel)
        )
        result["event"] = _wait(conns.text, source, answered)
    emit(result, as_json, None if as_json else _summary(result))


def _answered_id(response: Any) -> str | None:
    """The event id the webhook answer names (a lone event, or the first item of a batch)."""
    if not isinstance(response, dict):
        return None
    items = response.get("results")
    item = items[0] if isinstance(items, list) and items else response
    value = item.get("event_id") if isinstance(item, dict) else None
    try:
        return check_event_id(value)  # it becomes part of a Redis key
    except InvalidIdentifier:
        return None


def _sandbox_info() -> dict[str, str]:
    path = Path("var/sandbox.json")
    if not path.exists():
        fail("var/sandbox.json not found: start `zeeg-consumer run --sandbox` (make run) first")
    info: dict[str, str] = json.loads(path.read_text())
    return info


def _sandbox_record(info: dict[str, str], external_id: str) -> str:
    root = info["sandbox_url"].removesuffix("/v2")
    body = {"object": "contacts", "records": [{"attributes": {"external_id": external_id}}]}
    answer = requests.post(f"{root}/_sandbox/records", json=body, timeout=5)
    record_id: str = answer.json()["ids"][0]
    return record_id


def _wait(r: redis.Redis, source: str, event_id: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = events.load(r, source, event_id)
        if event is not None and event.status in (EventStatus.DONE, EventStatus.FAILED):
            outcomes = events.target_outcomes(r, source, event_id)
            flat = {k: [o.outcome for o in v] for k, v in outcomes.items()}
            return {"status": event.status, "outcomes": flat, "event_id": event_id}
        time.sleep(0.05)
    return {"status": "pending", "event_id": event_id}


def _summary(result: dict[str, Any]) -> str:
    response = result["response"] if isinstance(result["response"], dict) else {}
    # A batch answer (okta, auth0-log-stream) has counts instead of one status.
    status = response.get("status") or response.get("counts")
    lines = [f"webhook: {result['http_status']} {status}"]
    if result.get("record_id"):
        lines.append(f"sandbox record: contacts/{result['record_id']}")
    event = result.get("event")
    if event:
        lines.append(f"event {event['event_id']}: {event['status']} {event.get('outcomes', '')}")
    return "\n".join(lines)
