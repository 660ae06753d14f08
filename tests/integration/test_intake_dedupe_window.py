"""The event hash as the duplicate marker (store.dedupe): no dedupe key while the hash
outlives the window, the same answer as the key gave, and 0.3.0's keys still dedupe."""

from __future__ import annotations

from consumer import intake
from consumer.models import EventStatus, ParsedEvent
from consumer.queue import erasure_queue
from consumer.store import dedupe, events, keys
from consumer.store.connection import Connections

NOW = 1_790_000_000.0
DAY = 86400


def _accept(
    conns: Connections, now: float = NOW, dedupe_days: float = 7, retention_days: float = 30
) -> intake.IntakeResult:
    event = ParsedEvent("userdb", "e-1", "contact.deleted", "u-1", None, ("contacts",))
    return intake.accept(
        conns.text,
        erasure_queue(conns.raw),
        event,
        now=now,
        dedupe_ttl_days=dedupe_days,
        retention_days=retention_days,
        job_timeout=60,
    )


def test_inside_the_window_the_event_hash_dedupes_and_no_dedupe_key_is_written(
    conns: Connections,
) -> None:
    """Defaults (7 and 30 days): the duplicate names the first job; no zc:dedupe key."""
    first = _accept(conns)
    again = _accept(conns, NOW + 7 * DAY - 1)
    assert (again.status, again.job_id) == ("duplicate", first.job_id)
    assert not conns.text.exists(keys.dedupe("userdb", "e-1"))
    assert len(erasure_queue(conns.raw)) == 1


def test_past_the_window_a_redelivery_is_a_new_event_as_when_the_key_expired(
    conns: Connections,
) -> None:
    """The hash still lives (30 days), but past 7 days the same id is accepted afresh."""
    first = _accept(conns)
    later = _accept(conns, NOW + 7 * DAY + 1)
    assert later.status == "accepted" and later.job_id != first.job_id
    assert events.load_hash(conns.text, "userdb", "e-1")["job_id"] == later.job_id


def test_the_duplicate_names_the_first_job_after_a_retry_and_a_replay(
    conns: Connections,
) -> None:
    """A retry and a replay give the event new jobs; a redelivery still names the first."""
    first = _accept(conns)
    event = events.load(conns.text, "userdb", "e-1")
    assert event is not None
    events.reschedule(conns.text, event, EventStatus.RETRYING, "job-2", 1.0, NOW + 1, "http_503")
    with conns.text.pipeline() as pipe:
        data = events.load_hash(conns.text, "userdb", "e-1")
        events.reset_for_replay(pipe, data, "job-3", by="ana", reason="r", now=NOW + 2, ttl=DAY)
        pipe.execute()
    stored = events.load_hash(conns.text, "userdb", "e-1")
    assert (stored["job_id"], stored[dedupe.FIRST_JOB]) == ("job-3", first.job_id)
    assert _accept(conns, NOW + 3).job_id == first.job_id


def test_a_dedupe_key_written_by_0_3_0_still_dedupes(conns: Connections) -> None:
    """A key from before the upgrade, with no event hash beside it, answers the duplicate."""
    conns.text.set(keys.dedupe("userdb", "e-1"), "job-030", ex=DAY)
    again = _accept(conns)
    assert (again.status, again.job_id) == ("duplicate", "job-030")
    assert not conns.text.exists(keys.event("userdb", "e-1"))


def test_a_window_the_hash_does_not_outlive_still_writes_the_dedupe_key(
    conns: Connections,
) -> None:
    """40 days of dedupe, 30 of retention (or equal, as the clocks may differ): the key."""
    first = _accept(conns, dedupe_days=40)
    assert conns.text.ttl(keys.dedupe("userdb", "e-1")) == 40 * DAY
    assert conns.text.get(keys.dedupe("userdb", "e-1")) == first.job_id
    assert dedupe.window(1, 1) == 0 and dedupe.window(7, 30) == 7 * DAY


def test_a_stray_hash_without_its_event_does_not_dedupe(conns: Connections) -> None:
    """A status written after the hash expired makes a hash with no event in it: new event."""
    conns.text.hset(keys.event("userdb", "e-1"), mapping={"status": "done", "job_id": "x"})
    assert _accept(conns).status == "accepted"
