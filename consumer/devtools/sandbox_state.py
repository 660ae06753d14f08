"""The sandbox's state: records, fault switches and the request log, behind one lock.

Faults, settable with PUT /_sandbox/faults or Sandbox.set_faults():

    latency_ms          added to every CRM call
    always              a fault applied to every CRM call until cleared, e.g. {"status": 503}
    script              faults applied to the next CRM calls, one each, in order
    rate_limit_per_second  answer 429 past this many CRM calls per second: by default a
                        token bucket (`limit` calls at once, refilled at `limit` per second)
    rate_limit_mode     "bucket" (default) or "window": at most `limit` calls in each
                        wall-clock second (harsher: network jitter can push a call over)
    retry_after         "seconds" (default), "date" or "none": the Retry-After of limit 429s
    error_shape         "message" ({"success","message","status"}) or "error" ({"error"})
    standard_objects_deletable  whether DELETE /crm/people|companies/<id> works (default true)
    phantom_deletes     the next N DELETEs of a record it has answer 200 and keep the record
    random              seeded random faults (500s, timeouts, drops, 429 bursts): sandbox_chaos

A fault is {"status": N, "retry_after": "2" | "date:2" | null, "delay_ms": N, "drop": bool,
"only": "DELETE", "answer": bool}: answer status N, or sleep delay_ms first, or close the
connection unanswered; with "answer", sleep delay_ms and then answer the call as usual.
"only" is a method, or a method and a path prefix ("DELETE /crm/contacts/") to aim at one call.
"""

from __future__ import annotations

import collections
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from consumer.devtools.sandbox_chaos import RandomFaults

DEFAULT_FAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "always": None,
    "script": [],
    "rate_limit_per_second": None,
    "rate_limit_mode": "bucket",
    "retry_after": "seconds",
    "error_shape": "message",
    "standard_objects_deletable": True,
    "phantom_deletes": 0,
    "random": None,
}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class SandboxState:
    """Records, faults and the request log, behind one lock."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.Lock()
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.faults: dict[str, Any] = json.loads(json.dumps(DEFAULT_FAULTS))
        self.log: list[dict[str, Any]] = []
        self.connections = 0  # TCP connections accepted: shows a client's keep-alive works
        self.in_flight = 0  # CRM calls being answered now
        self.max_in_flight = 0  # the most at once: shows how many calls a client overlaps
        self.fault_counts: collections.Counter[str] = collections.Counter()
        self._random: RandomFaults | None = None
        self._window = (0, 0)  # (second, calls in it)
        self._bucket = (0.0, 0.0)  # (tokens, monotonic time of the last refill)

    def seed(self, obj: str, records: list[dict[str, Any]]) -> list[str]:
        """Add records ({"id"?, "attributes"}) to an object; returns their ids."""
        ids = []
        with self.lock:
            for rec in records:
                rid = str(rec.get("id") or uuid.uuid4()).lower()
                self.records.setdefault(obj, {})[rid] = self._record(obj, rid, rec)
                ids.append(rid)
        return ids

    def _record(self, obj: str, rid: str, rec: dict[str, Any]) -> dict[str, Any]:
        now = _iso(time.time())
        attributes = dict(rec.get("attributes") or {})
        return {
            "id": rid,
            "objectSlug": obj,
            "attributes": attributes,
            "createdAt": now,
            "updatedAt": now,
        }

    def set_faults(self, **faults: Any) -> None:
        """Change some fault switches; the others keep their values."""
        unknown = set(faults) - set(DEFAULT_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault switches: {sorted(unknown)}")
        with self.lock:
            self.faults.update(json.loads(json.dumps(faults)))
            if "random" in faults:
                chosen = self.faults["random"]
                self._random = RandomFaults(chosen, self.fault_counts) if chosen else None

    def reset(self) -> None:
        """Forget records, faults and the request log."""
        with self.lock:
            self.records.clear()
            self.faults = json.loads(json.dumps(DEFAULT_FAULTS))
            self.log.clear()
            self.connections = 0
            self.max_in_flight = 0
            self.fault_counts.clear()
            self._random = None

    def call_started(self) -> None:
        """A CRM call arrived: count it in flight until call_ended()."""
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def call_ended(self) -> None:
        """A CRM call was answered (or dropped)."""
        with self.lock:
            self.in_flight -= 1

    def requests(self) -> list[dict[str, Any]]:
        """A copy of the request log of CRM calls."""
        with self.lock:
            return list(self.log)

    def next_fault(self, method: str, path: str = "") -> dict[str, Any] | None:
        """The fault for this call, if any; consumes one scripted fault."""
        call = f"{method} {path}"
        with self.lock:
            script = self.faults["script"]
            for i, fault in enumerate(script):
                if _aims_at(fault.get("only"), method, call):
                    return dict(script.pop(i))
            always = self.faults["always"]
            if always and _aims_at(always.get("only"), method, call):
                return dict(always)
            chaos = self._random
            if chaos is not None and _aims_at(chaos.config.get("only"), method, call):
                drawn = chaos.draw()
                if drawn is not None:
                    return drawn
            return self._rate_limited()

    def _rate_limited(self) -> dict[str, Any] | None:
        limit = self.faults["rate_limit_per_second"]
        if limit is None:
            return None
        if self.faults["rate_limit_mode"] == "window":
            second = int(time.time())
            calls = self._window[1] + 1 if self._window[0] == second else 1
            self._window = (second, calls)
            allowed = calls <= limit
        else:
            allowed = self._take_token(float(limit))
        if allowed:
            return None
        self.fault_counts["429 limit"] += 1
        mode = self.faults["retry_after"]
        hint = {"seconds": "1", "date": "date:1", "none": None}.get(mode, "1")
        return {"status": 429, "retry_after": hint}

    def _take_token(self, limit: float) -> bool:
        """A bucket of `limit` tokens refilled at `limit` per second (called under the lock)."""
        now = time.monotonic()
        tokens, at = self._bucket
        tokens = limit if at == 0.0 else min(limit, tokens + (now - at) * limit)
        allowed = tokens >= 1.0
        self._bucket = (tokens - 1.0 if allowed else tokens, now)
        return allowed


def _aims_at(only: str | None, method: str, call: str) -> bool:
    """A fault applies to every call, to one method, or to calls under a method and path."""
    return only in (None, method) or (
        bool(only) and " " in str(only) and call.startswith(str(only))
    )
