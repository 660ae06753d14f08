"""Signature schemes and sender presets: plain data that settings validates against.

A preset fills a source's scheme, field paths and deletion event types; every key it sets can
be overridden in the source's own table, and its `options` are merged key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consumer.settings.schema import Key, Schema

SCHEMES = ("standard-webhooks", "stripe", "workos", "hmac-sha256", "token", "none")

# Default signature header per scheme, where the scheme has a configurable one.
DEFAULT_HEADERS = {
    "hmac-sha256": "X-Signature",
    "token": "Authorization",
    "stripe": "Stripe-Signature",
    "workos": "WorkOS-Signature",
}

# Default event_id per scheme (SPEC §3): the id Standard Webhooks senders put in a header.
DEFAULT_EVENT_IDS = {"standard-webhooks": "header:webhook-id"}

# event_id value for senders that send none: sha256 of the source name and canonical event.
DERIVED_ID = "digest:sha256"

# options.batch: "array" (a JSON array, JSON lines, or one object) or a dotted path to the
# array of events inside an envelope object.
BATCH_ARRAY = "array"

PRESETS: dict[str, dict[str, Any]] = {
    "standard-webhooks": {
        "scheme": "standard-webhooks",
        "event_id": "header:webhook-id",
        "event_type": "type",
        "external_id": "data.id",
        "occurred_at": "timestamp",
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
    "stripe": {
        "scheme": "stripe",
        "event_id": "id",
        "event_type": "type",
        "external_id": "data.object.id",
        "occurred_at": "created",
        "event_types": ["customer.deleted"],
    },
    "workos": {
        "scheme": "workos",
        "event_id": "id",
        "event_type": "event",
        "external_id": "data.id",
        "occurred_at": "created_at",
        "event_types": ["user.deleted", "dsync.user.deleted"],
    },
    "auth0-log-stream": {
        "scheme": "token",
        "event_id": "log_id",
        "event_type": "data.type",
        "external_id": "data.user_id",
        "occurred_at": "data.date",
        "event_types": ["sdu"],
        "options": {"batch": BATCH_ARRAY},
    },
    "auth0-event-stream": {
        "scheme": "token",
        "event_id": "id",
        "event_type": "type",
        "external_id": "data.object.user_id",
        "occurred_at": "time",
        "event_types": ["user.deleted"],
    },
    "okta": {
        "scheme": "token",
        "event_id": "uuid",
        "event_type": "eventType",
        # target is a list of entities (User, AppUser, UserGroup...) in no promised order.
        "external_id": "target[type=User].id",
        "occurred_at": "published",
        "event_types": ["user.lifecycle.delete.initiated"],
        "options": {"batch": "data.events"},
    },
    "supabase": {
        "scheme": "token",
        "event_id": DERIVED_ID,
        "event_type": "type",
        "event_types": ["DELETE"],
        "options": {"column": "id"},
    },
    "keycloak": {
        "scheme": "hmac-sha256",
        "signature_header": "X-Keycloak-Signature",
        "event_id": "uid",
        "event_type": "type",
        # An admin deleting a user names it by resource path ("users/<id>"); a user deleting
        # their own account in the Account Console is a user event carrying authDetails.userId.
        "external_id": {
            "admin.USER-DELETE": "resourcePath",
            "access.DELETE_ACCOUNT": "authDetails.userId",
        },
        "occurred_at": "time",
        "event_types": ["admin.USER-DELETE", "access.DELETE_ACCOUNT"],
        "options": {"external_id_prefix": {"admin.USER-DELETE": "users/"}},
    },
    "github-style": {
        "scheme": "hmac-sha256",
        "signature_header": "X-Hub-Signature-256",
        "options": {"delivery_header": "X-GitHub-Delivery"},
    },
}

# Options each preset or scheme understands, checked like any table; external_id_prefix may
# also be a table of event type = prefix, like external_id.
OPTIONS = Schema(
    {
        "batch": Key(str),
        "column": Key(str),
        "delivery_header": Key(str),
        "external_id_prefix": Key(str, by_event_type=True),
    },
    prefix="options.",
    unknown="unknown option ({known})",
)


def apply(preset: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """A source table with its preset filled in: body wins, options merge key by key."""
    merged = {**preset, **body}
    own = body.get("options")
    options = {**preset.get("options", {}), **(own if isinstance(own, Mapping) else {})}
    if options:
        merged["options"] = options
    column = options.get("column")
    if "external_id" not in body and isinstance(column, str) and column:
        merged["external_id"] = f"old_record.{column}"
    delivery = options.get("delivery_header")
    if "event_id" not in body and isinstance(delivery, str) and delivery:
        merged["event_id"] = f"header:{delivery}"
    return merged
