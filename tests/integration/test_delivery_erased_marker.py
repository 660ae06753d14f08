"""The erased marker gives way to the deletion's audit entry once that is written, when the
audit is kept at least as long as the marker (audit_retention_days >= tombstone_days)."""

from __future__ import annotations

import time

from consumer.delivery.policy import handle_delivery
from consumer.devtools.sandbox import Sandbox
from consumer.models import ALREADY_DELETED, Mapping
from consumer.settings import Settings
from consumer.store import events, keys, mappings
from consumer.store.connection import Connections
from tests.helpers import accept_event, context, deletes, make_settings, mapped


def _erase(settings: Settings, conns: Connections, event_id: str, external_id: str) -> None:
    accept_event(conns, event_id, external_id, time.time(), dedupe_ttl_days=7, retention_days=30)
    handle_delivery(context(settings, conns), "userdb", event_id, f"job-{event_id}")


def test_a_recorded_deletion_needs_no_marker_and_is_never_repeated(
    conns: Connections, sandbox: Sandbox, settings: Settings
) -> None:
    """Defaults (400 and 35 days): no zc:erased key stays, yet a second event for the same
    record is already_deleted from the audit entry, with no second DELETE."""
    rid = mapped(conns, sandbox, "u-1")
    _erase(settings, conns, "e-1", "u-1")
    assert not conns.text.exists(keys.erased("contacts", rid))
    assert mappings.is_erased(conns.text, "contacts", rid)
    mappings.put(conns.text, Mapping("userdb", "contacts", "u-2", rid, 1.0))
    _erase(settings, conns, "e-2", "u-2")
    (outcome,) = events.target_outcomes(conns.text, "userdb", "e-2")["contacts"]
    assert (outcome.outcome, outcome.detail) == (ALREADY_DELETED, "deletion recorded")
    assert len(deletes(sandbox)) == 1


def test_a_marker_written_by_0_3_0_or_before_the_outcome_still_counts(
    conns: Connections,
) -> None:
    """A marker with no audit entry (an older version's, or a run cut after its DELETE)."""
    assert not mappings.is_erased(conns.text, "contacts", "r-1")
    mappings.mark_erased(conns.text, "contacts", "r-1", "userdb/e-0", 60)
    assert mappings.is_erased(conns.text, "contacts", "r-1")


def test_an_audit_kept_shorter_than_the_marker_keeps_the_marker(
    conns: Connections, sandbox: Sandbox
) -> None:
    """audit_retention_days 10 < tombstone_days 35: the marker stays, as in 0.3.0."""
    settings = make_settings(sandbox.url, retention={"audit_retention_days": 10})
    rid = mapped(conns, sandbox, "u-1")
    _erase(settings, conns, "e-1", "u-1")
    assert 0 < conns.text.ttl(keys.erased("contacts", rid)) <= 35 * 86400
