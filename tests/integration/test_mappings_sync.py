"""mappings sync: pages through the list endpoint, links by attribute, resumes after a stop."""

from __future__ import annotations

import time

import pytest

from consumer.delivery.context import Context
from consumer.devtools.sandbox import Sandbox
from consumer.errors import ZeegTransient
from consumer.mappings.sync import SyncReport, sync
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import keys, mappings
from consumer.store.connection import Connections
from tests.helpers import context


class Interrupted(Exception):
    """Stands for Ctrl-C in the middle of a sync."""


def _seed(sandbox: Sandbox, n: int) -> dict[str, str]:
    """n contacts whose `ext` attribute holds an external id; returns external id -> record id."""
    ids = sandbox.state.seed("contacts", [{"attributes": {"ext": f"u-{i}"}} for i in range(n)])
    return {f"u-{i}": rid for i, rid in enumerate(ids)}


def _linked(conns: Connections, external_ids: dict[str, str]) -> dict[str, str]:
    found = {}
    for external_id in external_ids:
        for m in mappings.get(conns.text, "userdb", "contacts", external_id):
            found[external_id] = m.record_id
    return found


def _list_calls(sandbox: Sandbox) -> list[int]:
    return [r["status"] for r in sandbox.state.requests() if r["method"] == "GET"]


def test_sync_links_every_record_across_several_pages(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """12 records, 5 a page: three list calls, twelve links, the cursor removed at the end."""
    expected = _seed(sandbox, 12)
    report = sync(context(settings, conns), "userdb", "contacts", "ext", count=5)
    assert (report.complete, report.total_pages, report.linked) == (True, 3, 12)
    assert _list_calls(sandbox) == [200, 200, 200]
    assert _linked(conns, expected) == expected
    assert not conns.text.exists(keys.sync_cursor("userdb", "contacts", "ext"))


def test_sync_links_with_the_records_created_at(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """linked_at is the record's createdAt, so the stale guard spares contacts made later."""
    rid = _seed(sandbox, 1)["u-0"]
    sandbox.state.records["contacts"][rid]["createdAt"] = "2024-01-01T00:00:00Z"
    sync(context(settings, conns), "userdb", "contacts", "ext")
    (m,) = mappings.get(conns.text, "userdb", "contacts", "u-0")
    assert m.linked_at == 1704067200.0


def _seeded(
    settings: Settings, conns: Connections, sandbox: Sandbox, n: int
) -> tuple[dict[str, str], Context]:
    """Seed n contacts (see _seed) and build the context a sync runs in."""
    return _seed(sandbox, n), context(settings, conns)


def test_sync_interrupted_resumes_at_the_next_page(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Stopped after page 2 of 4, a second run fetches pages 3 and 4 only."""
    expected, ctx = _seeded(settings, conns, sandbox, 8)

    def stop_after_two(report: SyncReport) -> None:
        if report.page == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        sync(ctx, "userdb", "contacts", "ext", count=2, on_page=stop_after_two)
    assert conns.text.hget(keys.sync_cursor("userdb", "contacts", "ext"), "page") == "3"
    report = sync(ctx, "userdb", "contacts", "ext", count=2)
    assert (report.resumed_from, report.complete, report.records) == (3, True, 8)
    assert _list_calls(sandbox) == [200] * 4
    assert _linked(conns, expected) == expected


def test_sync_stopped_by_an_outage_resumes_with_the_page_size_it_started_with(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Zeeg failing past the retries stops the sync; the next run resumes at the failed page."""
    expected, ctx = _seeded(settings, conns, sandbox, 6)

    def outage_after_first(report: SyncReport) -> None:
        sandbox.state.set_faults(always={"status": 503, "only": "GET"})

    with pytest.raises(ZeegTransient):
        sync(
            ctx,
            "userdb",
            "contacts",
            "ext",
            count=3,
            on_page=outage_after_first,
            sleep=lambda s: None,
        )
    sandbox.state.set_faults(always=None)
    report = sync(ctx, "userdb", "contacts", "ext", count=50, sleep=lambda s: None)
    assert (report.resumed_from, report.complete) == (2, True)
    assert [s for s in _list_calls(sandbox) if s == 200] == [200, 200]
    assert _linked(conns, expected) == expected


def test_sync_skips_records_without_a_usable_value(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Records with no attribute, or a value that is no external id, are counted as skipped."""
    sandbox.state.seed("contacts", [{"attributes": {}}, {"attributes": {"ext": "x" * 300}}])
    report = sync(context(settings, conns), "userdb", "contacts", "ext")
    assert (report.records, report.linked, report.skipped) == (2, 0, 2)


def test_sync_takes_a_token_from_the_shared_bucket_per_call(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Sync is rate-limited like deletions: each list call takes from the same token bucket."""
    _seed(sandbox, 1)
    sync(context(settings, conns), "userdb", "contacts", "ext")
    tokens = conns.text.hget(keys.BUCKET, "tokens")
    assert tokens is not None and float(tokens) < settings.zeeg.burst


def test_sync_of_a_tombstoned_external_id_erases_the_record(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Late link applies to sync: a record created before the deletion is erased at once."""
    _seed(sandbox, 1)
    conns.text.set(keys.tombstone("userdb", "u-0"), repr(time.time() + 60))
    report = sync(context(settings, conns), "userdb", "contacts", "ext")
    assert report.erasures == 1
    assert len(erasure_queue(conns.raw)) == 1


def test_sync_spends_one_shared_token_per_page(conns: Connections, sandbox: Sandbox) -> None:
    """Three pages from a bucket of three (refilling once in ~17 min): no wait, no 429."""
    from tests.helpers import make_settings

    settings = make_settings(sandbox.url, zeeg={"rate_limit_per_second": 0.001, "burst": 3})
    _seed(sandbox, 12)
    naps: list[float] = []
    report = sync(context(settings, conns), "userdb", "contacts", "ext", count=5, sleep=naps.append)
    assert report.complete and naps == []
    assert _list_calls(sandbox) == [200, 200, 200]


def test_sync_waits_out_a_429_hold_set_by_any_worker(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """A shared Retry-After hold is slept through before the next list call."""
    from consumer.store import pause

    _seed(sandbox, 3)
    pause.hold_until(conns.text, time.time() + 30, time.time())
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        conns.text.delete(keys.HOLD)  # the hold "expires" during the nap

    report = sync(context(settings, conns), "userdb", "contacts", "ext", sleep=nap)
    assert report.complete and len(naps) == 1 and 25 < naps[0] <= 35


def test_sync_stops_with_a_clear_reason_while_delivery_is_auth_paused(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """No list call is made during an auth pause; the error says how to go on."""
    from consumer.errors import ZeegAuth
    from consumer.store import pause

    _seed(sandbox, 3)
    pause.pause(conns.text, "Zeeg answered 401", time.time())
    with pytest.raises(ZeegAuth, match="resume"):
        sync(context(settings, conns), "userdb", "contacts", "ext")
    assert _list_calls(sandbox) == []
