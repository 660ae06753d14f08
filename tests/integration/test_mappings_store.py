"""The mapping store: keys, linking with tombstone checks, unlinking, scanning."""

from __future__ import annotations

from consumer.models import Mapping
from consumer.store import keys, mappings
from consumer.store.connection import Connections

RID = "3f2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
RID2 = "0a2b8c1e-1a2b-4c3d-8e9f-0123456789ab"


def test_put_many_reports_new_links_and_existing_ones(conns: Connections) -> None:
    """A first write is new, the same link again is not (re-imports are idempotent)."""
    m = Mapping("userdb", "contacts", "u-1", RID, 10.0)
    (first,) = mappings.put_many(conns.text, [(m, True)])
    (second,) = mappings.put_many(conns.text, [(m, True)])
    assert (first.new, second.new) == (True, False)
    assert mappings.get(conns.text, "userdb", "contacts", "u-1") == [m]


def test_put_many_keeps_an_existing_linked_at_when_asked(conns: Connections) -> None:
    """A row without linked_at does not move an existing link's time (stale guard stays true)."""
    mappings.put(conns.text, Mapping("userdb", "contacts", "u-1", RID, 10.0))
    (done,) = mappings.put_many(
        conns.text, [(Mapping("userdb", "contacts", "u-1", RID, 99.0), True)]
    )
    assert done.mapping.linked_at == 10.0


def test_put_many_replaces_linked_at_when_given(conns: Connections) -> None:
    """An explicit linked_at replaces the stored one."""
    mappings.put(conns.text, Mapping("userdb", "contacts", "u-1", RID, 10.0))
    mappings.put_many(conns.text, [(Mapping("userdb", "contacts", "u-1", RID, 20.0), False)])
    assert mappings.get(conns.text, "userdb", "contacts", "u-1")[0].linked_at == 20.0


def test_put_many_returns_the_tombstone_of_the_external_id(conns: Connections) -> None:
    """The tombstone's deleted_at comes back with the write (for the late-link check)."""
    conns.text.set(keys.tombstone("userdb", "u-1"), "50.5")
    (done,) = mappings.put_many(conns.text, [(Mapping("userdb", "deals", "u-1", RID, 1.0), True)])
    assert done.deleted_at == 50.5


def test_several_records_for_one_external_id_are_all_linked(conns: Connections) -> None:
    """Two rows for one external id are two records, oldest link first."""
    a = Mapping("userdb", "contacts", "u-1", RID, 2.0)
    b = Mapping("userdb", "contacts", "u-1", RID2, 1.0)
    mappings.put_many(conns.text, [(a, False), (b, False)])
    assert mappings.get(conns.text, "userdb", "contacts", "u-1") == [b, a]


def test_unlink_one_record_or_all(conns: Connections) -> None:
    """unlink removes one record id, or every record of the external id, and counts them."""
    for rid in (RID, RID2):
        mappings.put(conns.text, Mapping("userdb", "contacts", "u-1", rid, 1.0))
    assert mappings.unlink(conns.text, "userdb", "contacts", "u-1", RID.upper()) == 1
    assert mappings.unlink(conns.text, "userdb", "contacts", "u-1", None) == 1
    assert mappings.unlink(conns.text, "userdb", "contacts", "u-1", None) == 0


def test_scan_filters_by_source_and_object(conns: Connections) -> None:
    """scan yields every link, or those of one source and object; ':' in ids survives."""
    wanted = Mapping("userdb", "contacts", "a:b", RID, 1.0)
    mappings.put(conns.text, wanted)
    mappings.put(conns.text, Mapping("userdb", "deals", "a:b", RID, 1.0))
    mappings.put(conns.text, Mapping("other", "contacts", "c", RID2, 1.0))
    assert list(mappings.scan(conns.text, "userdb", "contacts")) == [wanted]
    assert len(list(mappings.scan(conns.text))) == 3
