"""The adaptive shared rate: a 429 cuts it for every worker, successes raise it, within bounds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from consumer.delivery.gate import DeliveryGate
from consumer.devtools.sandbox import Sandbox
from consumer.errors import ZeegTransient
from consumer.store import keys, pause, ratelimit
from consumer.store.connection import Connections
from consumer.zeeg.client import ZeegClient
from tests.helpers import make_settings


def test_a_429_cuts_the_rate_once_per_cooldown(conns: Connections) -> None:
    """Two 429s at once (calls in flight together) cut the rate once, to FACTOR of it."""
    first = ratelimit.slow_down(conns.text, 100.0)
    second = ratelimit.slow_down(conns.text, 100.0)
    assert first == second == pytest.approx(100.0 * ratelimit.FACTOR)
    assert ratelimit.current_rate(conns.text) == pytest.approx(90.0)


def test_the_cut_starts_from_the_rate_granted_in_the_last_second(conns: Connections) -> None:
    """Configured 200/s, 10 tokens granted, then a call waits: the cut lands near 9, not 180."""
    for _ in range(10):
        ratelimit.pass_gate(conns.text, 200.0, 1000)
    conns.text.hset(keys.BUCKET, "tokens", 0)  # demand ran out of tokens: the bucket binds
    assert ratelimit.pass_gate(conns.text, 200.0, 1000)[0] == ratelimit.NO_TOKEN
    assert ratelimit.slow_down(conns.text, 200.0) == pytest.approx(10 * ratelimit.FACTOR, abs=0.5)


def test_a_cut_taken_while_the_bucket_was_idle_stays_near_the_rate(conns: Connections) -> None:
    """A few tokens granted, none waited for (an outage, a trickle): the cut is FACTOR of it."""
    for _ in range(3):
        assert ratelimit.pass_gate(conns.text, 100.0, 1000)[0] == ratelimit.GO
    assert ratelimit.slow_down(conns.text, 100.0) == pytest.approx(100.0 * ratelimit.FACTOR)
    assert ratelimit.pass_gate(conns.text, 100.0, 1000)[0] == ratelimit.GO
    assert ratelimit.current_rate(conns.text) >= 100.0 * ratelimit.FACTOR


def _seconds_since_the_cut(conns: Connections, seconds: float) -> float:
    """Move the climb's start `seconds` back (Redis time drives it), take a token, the rate."""
    now_ms = int(conns.text.time()[0] * 1000)
    conns.text.hset(keys.BUCKET, mapping={"since": now_ms - int(seconds * 1000), "tokens": 1})
    assert ratelimit.pass_gate(conns.text, 100.0, 1)[0] == ratelimit.GO
    return ratelimit.current_rate(conns.text)


def test_after_a_deep_cut_the_rate_climbs_back_to_the_configured_one_in_bounded_time(
    conns: Connections,
) -> None:
    """Cut to 2.7 of 100: near 3 at the plateau, then faster and faster, 100 within 20 s."""
    for _ in range(3):
        ratelimit.pass_gate(conns.text, 100.0, 1000)
    conns.text.hset(keys.BUCKET, "tokens", 0)
    ratelimit.pass_gate(conns.text, 100.0, 1000)
    assert ratelimit.slow_down(conns.text, 100.0) == pytest.approx(3 * ratelimit.FACTOR)
    plateau = float(conns.text.hget(keys.BUCKET, "k") or 0)
    assert 2.7 < _seconds_since_the_cut(conns, plateau) < 3.1
    rates = [_seconds_since_the_cut(conns, plateau + s) for s in (4, 5, 10, 11)]
    assert rates[3] - rates[2] > rates[1] - rates[0] > 0  # the longer without a 429, the faster
    assert _seconds_since_the_cut(conns, 1.25 * ratelimit.CLIMB_SECONDS) == 100.0


def test_a_limit_found_again_past_the_plateau_is_probed_past_more_slowly(
    conns: Connections,
) -> None:
    """A 429 past the plateau at the same base doubles the probe's time scale; one before resets."""
    ratelimit.slow_down(conns.text, 100.0)
    plateau = float(conns.text.hget(keys.BUCKET, "k") or 0)
    _seconds_since_the_cut(conns, plateau + 1)
    conns.text.hset(keys.BUCKET, "cut_at", 0)  # the cooldown is long past
    assert ratelimit.slow_down(conns.text, 100.0) == pytest.approx(90.0, abs=0.1)
    assert float(conns.text.hget(keys.BUCKET, "probe") or 0) == 2 * ratelimit.CLIMB_SECONDS
    conns.text.hset(keys.BUCKET, "cut_at", 0)
    ratelimit.slow_down(conns.text, 100.0)  # a second 429 at once: an outage, not the limit
    assert float(conns.text.hget(keys.BUCKET, "probe") or 0) == ratelimit.CLIMB_SECONDS


def test_granted_tokens_raise_the_rate_but_never_above_the_configured_one(
    conns: Connections,
) -> None:
    """After a cut, each granted token adds step / rate (step = INCREASE * the cut rate), capped."""
    cut = ratelimit.slow_down(conns.text, 10.0)
    ratelimit.pass_gate(conns.text, 10.0, 100)
    raised = ratelimit.current_rate(conns.text)
    assert raised == pytest.approx(cut + ratelimit.INCREASE)
    conns.text.hset(keys.BUCKET, "tokens", 10**6)  # enough tokens for 500 calls at once
    for _ in range(500):
        ratelimit.pass_gate(conns.text, 10.0, 10**6)
    assert ratelimit.current_rate(conns.text) == 10.0


def test_repeated_429s_stop_at_the_floor(conns: Connections) -> None:
    """Cuts with the cooldown passed each time never take the rate below FLOOR of configured."""
    for _ in range(60):
        ratelimit.slow_down(conns.text, 100.0)
        conns.text.hset(keys.BUCKET, "cut_at", 0)
    assert ratelimit.current_rate(conns.text) == pytest.approx(100.0 * ratelimit.FLOOR)


def test_current_rate_is_the_configured_one_before_any_call_and_after_a_lower_config(
    conns: Connections,
) -> None:
    """No bucket yet, or a bucket written before the rate was stored: the configured rate."""
    assert ratelimit.current_rate(conns.text, 20.0) == 20.0
    assert ratelimit.current_rate(conns.text) == 0.0
    conns.text.hset(keys.BUCKET, mapping={"tokens": "1", "at": "1"})  # an older bucket
    assert ratelimit.current_rate(conns.text, 20.0) == 20.0
    ratelimit.slow_down(conns.text, 20.0)
    assert ratelimit.current_rate(conns.text, 5.0) == 5.0  # configured lower since


def test_the_gate_answers_paused_and_held_in_one_round_trip(conns: Connections) -> None:
    """pass_gate reads the auth pause (not for the probe) and the 429 hold before a token."""
    pause.pause(conns.text, "401", 1.0)
    assert ratelimit.pass_gate(conns.text, 5.0, 1) == (ratelimit.PAUSED, 0.0)
    assert ratelimit.pass_gate(conns.text, 5.0, 1, probe=True)[0] == ratelimit.GO
    conns.text.delete(keys.PAUSE)
    conns.text.set(keys.HOLD, int((conns.text.time()[0] + 5) * 1000))
    kind, wait = ratelimit.pass_gate(conns.text, 5.0, 1)
    assert (kind, 4.0 < wait <= 5.0) == (ratelimit.HELD, True)


def test_a_429_from_zeeg_lowers_the_shared_rate_through_the_client(
    conns: Connections, sandbox: Sandbox
) -> None:
    """The client tells the delivery gate of a 429: the rate every worker reads drops."""
    settings = make_settings(sandbox.url, zeeg={"rate_limit_per_second": 50.0, "burst": 1})
    client = ZeegClient(settings.zeeg, gate=DeliveryGate(conns.text, settings))
    (rid,) = sandbox.state.seed("contacts", [{}])
    sandbox.state.set_faults(script=[{"status": 429, "only": "DELETE"}])
    with pytest.raises(ZeegTransient):
        client.delete_record("contacts", rid)
    assert ratelimit.current_rate(conns.text, 50.0) < 50.0


def test_status_shows_the_configured_and_the_current_rate(cli: Any, conns: Connections) -> None:
    """status --json and the text both carry the adaptive rate beside the configured one."""
    ratelimit.slow_down(conns.text, 5.0)
    data = json.loads(cli("status", "--json").stdout)
    assert data["rate"] == {"configured_per_second": 5.0, "current_per_second": 4.5}
    assert "4.5/s now of 5/s configured" in cli("status").stdout
