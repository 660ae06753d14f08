"""Signed checkpoints of the audit chain: its head, length and anchor at one moment.

A checkpoint is a JSON document (consumer.signing signs it when a key is configured) kept in
the capped stream zc:audit:checkpoints, one entry each, field `doc`. The workers take one at
least hourly (their maintenance), and every audit export takes one. Compared with a later
export, a checkpoint shows that the entries up to its head were neither cut from the end nor
rewritten since: rewriting them changes the head, and only the key holder can sign another.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis

from consumer import signing
from consumer.models import json_object
from consumer.signing import SigningKey
from consumer.store import keys

KEPT = 20_000  # about two years of hourly checkpoints, approximately trimmed
HOURLY = 3600
# The hourly marker lasts a little less than an hour, so that a maintenance run every few
# minutes takes the next checkpoint within the hour, never later.
MARKER_SECONDS = HOURLY - 300


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def chain_state(r: redis.Redis) -> dict[str, Any]:
    """The head, the newest entry's id, the length and the anchor, read in one transaction."""
    with r.pipeline(transaction=True) as pipe:
        pipe.get(keys.AUDIT_HEAD)
        pipe.get(keys.AUDIT_ANCHOR)
        pipe.xlen(keys.AUDIT)
        pipe.xrevrange(keys.AUDIT, "+", "-", count=1)
        head, anchor, length, newest = pipe.execute()
    return {
        "head": head or "",
        "head_id": newest[0][0] if newest else "",
        "entries": int(length),
        "anchor": anchor or "",
    }


def take(r: redis.Redis, key: SigningKey | None, now: float, reason: str) -> dict[str, Any]:
    """Take, sign (with a key) and keep a checkpoint of the chain as it is now."""
    doc = {"type": "audit-checkpoint", "version": 1, **chain_state(r)}
    doc.update(created_at=_iso(now), reason=reason)
    signed = signing.sign(doc, key)
    text = json.dumps(signed, separators=(",", ":"), ensure_ascii=False)
    r.xadd(keys.CHECKPOINTS, {"doc": text}, maxlen=KEPT, approximate=True)
    return signed


def take_if_due(r: redis.Redis, key: SigningKey | None, now: float) -> dict[str, Any] | None:
    """The hourly checkpoint: taken by the first worker whose maintenance finds it due."""
    if not r.set(keys.CHECKPOINT_DUE, repr(now), nx=True, ex=MARKER_SECONDS):
        return None
    return take(r, key, now, "hourly")


def latest(r: redis.Redis, limit: int = 10) -> list[dict[str, Any]]:
    """The newest checkpoints, newest first (an entry that is not JSON is shown raw)."""
    rows: list[tuple[str, dict[str, str]]] = r.xrevrange(  # type: ignore[assignment]
        keys.CHECKPOINTS, "+", "-", count=limit
    )
    return [_doc(fields.get("doc", "")) for _, fields in rows]


def _doc(text: str) -> dict[str, Any]:
    doc = json_object(text)
    return doc if doc is not None else {"type": "unreadable", "raw": text}
