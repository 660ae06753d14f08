"""Every Redis key, as the literal string it must stay (stored data depends on it)."""

from __future__ import annotations

from consumer.store import keys


def test_keys_are_stable_literals() -> None:
    """Renaming a key orphans stored data: these strings are part of the contract."""
    assert keys.QUEUE == "zc-erasure"
    assert keys.EVENT_LOG == "zc:events"
    assert keys.AUDIT == "zc:audit"
    assert keys.AUDIT_HEAD == "zc:audit:head"
    assert keys.AUDIT_ANCHOR == "zc:audit:anchor"
    assert keys.METRICS == "zc:metrics"
    assert keys.PAUSE == "zc:pause"
    assert keys.HOLD == "zc:hold"
    assert keys.BUCKET == "zc:bucket"
    assert keys.dedupe("userdb", "e:1") == "zc:dedupe:userdb:e:1"
    assert keys.event("userdb", "e1") == "zc:event:userdb:e1"
    assert keys.trail("userdb", "e1") == "zc:trail:userdb:e1"
    assert keys.mapping("userdb", "contacts", "u:1") == "zc:map:userdb:contacts:u:1"
    assert keys.tombstone("userdb", "u1") == "zc:tomb:userdb:u1"
    assert keys.erased("contacts", "abc") == "zc:erased:contacts:abc"


def test_claim_key_is_this_literal_string() -> None:
    """The per-record claim key."""
    assert keys.claim("contacts", "abc") == "zc:claim:contacts:abc"


def test_mapping_keys_are_these_literal_strings() -> None:
    """Keys are part of the stored data's contract: external ids stand last."""
    assert keys.mapping("userdb", "contacts", "a:b") == "zc:map:userdb:contacts:a:b"
    assert keys.tombstone("userdb", "a:b") == "zc:tomb:userdb:a:b"
    assert keys.sync_cursor("userdb", "contacts", "ext_id") == "zc:sync:userdb:contacts:ext_id"
