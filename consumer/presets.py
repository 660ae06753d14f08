"""Signature schemes and sender presets: plain data that settings validates against.

A preset fills a source's scheme, field paths and deletion event types; every key it sets can
be overridden in the source's own table.
"""

from __future__ import annotations

from typing import Any

SCHEMES = ("standard-webhooks", "stripe", "workos", "hmac-sha256", "token", "none")

# Default signature header per scheme, where the scheme has a configurable one.
DEFAULT_HEADERS = {"hmac-sha256": "X-Signature", "token": "Authorization"}

PRESETS: dict[str, dict[str, Any]] = {
    "standard-webhooks": {
        "scheme": "standard-webhooks",
        "event_id": "header:webhook-id",
        "event_type": "type",
        "external_id": "data.id",
        "event_types": ["contact.deleted", "user.deleted"],
    },
    "clerk": {
        "scheme": "standard-webhooks",
        "event_id": "header:svix-id",
        "event_type": "type",
        "external_id": "data.id",
        "occurred_at": "timestamp",
        "event_types": ["user.deleted"],
    },
}
