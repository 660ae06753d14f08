"""A done event's trail folded (store.trail_fold): into its hash where the value keeps the
hash a listpack (hash-max-listpack-value 256, the project's Redis), else into a string
(Redis's default 64); read as the list was, unfolded by a later entry, and kept a list when
folding could not be exact."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from consumer.delivery.policy import handle_delivery
from consumer.devtools.sandbox import Sandbox
from consumer.ops.events import show_event
from consumer.settings import Settings
from consumer.store import events, keys, trail_fold
from consumer.store.connection import Connections
from tests.helpers import accept_event, context, mapped

AT = 1_790_000_000.25
TRICKY = [
    {"at": 1.5, "what": "note", "by": 'a "quoted" \\ name', "reason": "ünïcode ✓ [[x]] %s"},
    {"at": 2.0, "what": "attempt", "object": "contacts", "record_id": "deleted", "status": 200},
    {"at": 3, "what": "outcome", "object": "o", "outcome": "not_found", "record_id": '"}'},
]


@pytest.fixture(params=[64, 256], ids=["redis-default", "project-redis"])
def listpack_value(request: pytest.FixtureRequest, conns: Connections) -> Iterator[int]:
    """The server's hash-max-listpack-value for one test, restored after it."""
    before = conns.text.config_get("hash-max-listpack-value")["hash-max-listpack-value"]
    conns.text.config_set("hash-max-listpack-value", request.param)
    yield int(request.param)
    conns.text.config_set("hash-max-listpack-value", before)


def _form(conns: Connections) -> str:
    """Where e-1's trail is: "hash" (a field of the event hash), or the trail key's type."""
    if conns.text.hexists(keys.event("userdb", "e-1"), trail_fold.FIELD):
        return "hash"
    return str(conns.text.type(keys.trail("userdb", "e-1")))


FOLDED = {64: "string", 256: "hash"}


def _delivered(conns: Connections, sandbox: Sandbox, settings: Settings) -> None:
    mapped(conns, sandbox, "u-1")
    accept_event(conns, "e-1", "u-1", time.time(), dedupe_ttl_days=7, retention_days=30)
    handle_delivery(context(settings, conns), "userdb", "e-1", "job-1")


def test_a_done_events_trail_is_folded_and_read_as_its_entries(
    conns: Connections, sandbox: Sandbox, settings: Settings, listpack_value: int
) -> None:
    """After a real erasure the trail is folded, in about half the JSON's bytes, and events
    show reads received, run, attempt, outcome, done from it; the hash stays a listpack."""
    _delivered(conns, sandbox, settings)
    assert _form(conns) == FOLDED[listpack_value]
    shown = [e["what"] for e in show_event(conns.text, "userdb", "e-1")["trail"]]
    assert shown == ["received", "run", "attempt", "outcome", "done"]
    entries = events.trail(conns.text, "userdb", "e-1")[1:]
    whole = sum(len(json.dumps(e, separators=(",", ":"))) for e in entries)
    event, key = keys.event("userdb", "e-1"), keys.trail("userdb", "e-1")
    folded = conns.text.hget(event, trail_fold.FIELD) or conns.text.get(key) or ""
    assert 0 < len(folded) < whole * 0.6
    assert conns.text.object("encoding", event) == "listpack"
    if listpack_value == 64:
        assert 0 < conns.text.ttl(key) <= conns.text.ttl(event) + 1


def test_an_entry_after_completion_unfolds_the_trail_and_keeps_every_entry(
    conns: Connections, sandbox: Sandbox, settings: Settings, listpack_value: int
) -> None:
    """A replay of a done event appends to the whole trail; its completion folds it again."""
    _delivered(conns, sandbox, settings)
    before = events.trail(conns.text, "userdb", "e-1")
    data = events.load_hash(conns.text, "userdb", "e-1")
    with conns.text.pipeline() as pipe:
        events.reset_for_replay(
            pipe, data, "job-2", by="ana", reason="r", now=time.time(), ttl=3600
        )
        pipe.execute()
    key = keys.trail("userdb", "e-1")
    assert _form(conns) == "list"
    replayed = events.trail(conns.text, "userdb", "e-1")
    assert replayed[:-1] == before and replayed[-1]["what"] == "replayed"
    # The folded lines are one element, the newest entry stays plain (the orphan sweep's).
    assert conns.text.llen(key) == 2 and conns.text.lindex(key, 0).startswith(trail_fold.CHUNK)
    assert json.loads(conns.text.lindex(key, -1) or "")["what"] == "replayed"
    assert 3500 < conns.text.ttl(key) <= 3600
    handle_delivery(context(settings, conns), "userdb", "e-1", "job-2")
    assert _form(conns) == "string"  # ten entries: too long for a listpack value
    again = events.trail(conns.text, "userdb", "e-1")
    assert again[: len(replayed)] == replayed and again[-1]["what"] == "done"


def test_folding_is_exact_for_any_json_entry(conns: Connections, listpack_value: int) -> None:
    """Quotes, backslashes, non-ASCII text and token look-alikes read back unchanged."""
    accept_event(conns, "e-1", "u-1", AT, dedupe_ttl_days=7, retention_days=30)
    for entry in TRICKY:
        events.append_trail(conns.text, "userdb", "e-1", entry)
    events.mark_done(conns.text, "userdb", "e-1", 4.0)
    assert _form(conns) == FOLDED[listpack_value]
    received = {"at": AT, "what": "received"}
    expected = [received, *TRICKY, {"at": 4.0, "what": "done"}]
    assert events.trail(conns.text, "userdb", "e-1") == expected


def test_a_trail_with_a_raw_control_character_stays_a_list(conns: Connections) -> None:
    """A hand-edited entry holding a control character cannot be folded exactly: kept."""
    conns.text.rpush(keys.trail("userdb", "e-1"), '{"at":1,"what":"x\x01"}')
    events.mark_done(conns.text, "userdb", "e-1", 2.0)
    assert conns.text.type(keys.trail("userdb", "e-1")) == "list"
    first, done = events.trail(conns.text, "userdb", "e-1")
    assert (first["raw"], done["what"]) == ('{"at":1,"what":"x\x01"}', "done")


def test_the_tokens_expand_to_their_text() -> None:
    """The stored format's table: each code point stands for its text, \\n separates."""
    folded = "\n".join(chr(code) for code in trail_fold.TOKENS)
    assert trail_fold.expand(folded) == list(trail_fold.TOKENS.values())
    assert 10 not in trail_fold.TOKENS and all(0 < c < 32 for c in trail_fold.TOKENS)


def test_a_trail_folded_into_a_string_on_one_redis_reads_and_unfolds_as_well(
    conns: Connections,
) -> None:
    """A trail folded where the hash could not take it (or a hash without a TTL) is the
    string form; an entry after it unfolds it into a list with the string's TTL."""
    for entry in TRICKY:
        events.append_trail(conns.text, "userdb", "e-1", entry)
    events.mark_done(conns.text, "userdb", "e-1", 4.0)  # no event hash TTL: a string
    key = keys.trail("userdb", "e-1")
    assert conns.text.type(key) == "string"
    events.note(conns.text, "userdb", "e-1", "resumed", 5.0, by="ana")
    assert conns.text.type(key) == "list" and 0 < conns.text.ttl(key) <= 40 * 86400
    whats = [e["what"] for e in events.trail(conns.text, "userdb", "e-1")]
    assert whats == ["note", "attempt", "outcome", "done", "resumed"]


def test_a_done_events_list_trail_written_by_0_3_0_reads_and_folds_on_its_next_done(
    conns: Connections, listpack_value: int
) -> None:
    """0.3.0 left done trails as lists: read as they are; a replay and its done fold them."""
    accept_event(conns, "e-1", "u-1", AT, dedupe_ttl_days=7, retention_days=30)
    key = keys.trail("userdb", "e-1")
    old = [{"at": AT + 1, "what": "run", "job_id": "j-1"}, {"at": AT + 2, "what": "done"}]
    conns.text.rpush(key, *[json.dumps(e, separators=(",", ":")) for e in old])
    received = {"at": AT, "what": "received"}
    assert events.trail(conns.text, "userdb", "e-1") == [received, *old]
    data = events.load_hash(conns.text, "userdb", "e-1")
    with conns.text.pipeline() as pipe:
        events.reset_for_replay(pipe, data, "job-2", by="ana", reason="r", now=AT + 3, ttl=3600)
        pipe.execute()
    events.mark_done(conns.text, "userdb", "e-1", AT + 4)
    assert _form(conns) == FOLDED[listpack_value]
    whats = [e["what"] for e in events.trail(conns.text, "userdb", "e-1")]
    assert whats == ["received", "run", "done", "replayed", "done"]
