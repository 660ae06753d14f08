"""The fake Zeeg: records, auth, faults and the request log, over real HTTP."""

from __future__ import annotations

import email.utils
import time
import uuid

import pytest
import requests

from consumer.devtools.sandbox import Sandbox
from tests.helpers import ZEEG_TOKEN

AUTH = {"Authorization": f"Bearer {ZEEG_TOKEN}"}


def test_delete_answers_200_then_404(sandbox: Sandbox) -> None:
    """A deleted record is gone for good."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    first = requests.delete(f"{sandbox.url}/crm/contacts/{rid}", headers=AUTH, timeout=5)
    second = requests.delete(f"{sandbox.url}/crm/contacts/{rid}", headers=AUTH, timeout=5)
    assert first.status_code == 200
    assert first.json() == {"success": True, "status": 200, "message": "Record deleted."}
    assert second.status_code == 404


def test_wrong_token_is_401(sandbox: Sandbox) -> None:
    """Without the right Bearer token nothing is touched."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    bad = {"Authorization": "Bearer wrong"}
    assert (
        requests.delete(f"{sandbox.url}/crm/contacts/{rid}", headers=bad, timeout=5).status_code
        == 401
    )
    assert rid in sandbox.state.records["contacts"]


def test_records_can_be_seeded_and_read_over_the_control_api(sandbox: Sandbox) -> None:
    """POST /_sandbox/records seeds; GET lists them."""
    seeded = requests.post(
        f"{sandbox.root}/_sandbox/records",
        json={"object": "contacts", "records": [{"attributes": {"n": 1}}, {"attributes": {}}]},
        timeout=5,
    ).json()["ids"]
    listed = requests.get(f"{sandbox.root}/_sandbox/records?object=contacts", timeout=5).json()
    assert sorted(r["id"] for r in listed) == sorted(seeded)


def test_request_log_records_each_crm_call(sandbox: Sandbox) -> None:
    """Tests read method, path and status of every CRM call."""
    rid = str(uuid.uuid4())
    requests.delete(f"{sandbox.url}/crm/contacts/{rid}", headers=AUTH, timeout=5)
    log = requests.get(f"{sandbox.root}/_sandbox/requests", timeout=5).json()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("DELETE", f"/crm/contacts/{rid}", 404)
    ]


@pytest.mark.parametrize(
    ("hint", "check"),
    [
        ("7", lambda v: v == "7"),
        (
            "date:30",
            lambda v: 25 < email.utils.parsedate_to_datetime(v).timestamp() - time.time() < 35,
        ),
        (None, lambda v: v is None),
    ],
)
def test_scripted_429_carries_retry_after_in_each_form(sandbox: Sandbox, hint, check) -> None:  # type: ignore[no-untyped-def]
    """Retry-After in seconds, as an HTTP date, or absent."""
    sandbox.state.set_faults(script=[{"status": 429, "retry_after": hint}])
    answer = requests.delete(f"{sandbox.url}/crm/contacts/{uuid.uuid4()}", headers=AUTH, timeout=5)
    assert answer.status_code == 429
    assert check(answer.headers.get("Retry-After"))


def test_always_fault_applies_until_cleared(sandbox: Sandbox) -> None:
    """A 503 outage lasts until switched back."""
    sandbox.state.set_faults(always={"status": 503})
    url = f"{sandbox.url}/crm/contacts/{uuid.uuid4()}"
    assert [requests.delete(url, headers=AUTH, timeout=5).status_code for _ in range(3)] == [
        503
    ] * 3
    sandbox.state.set_faults(always=None)
    assert requests.delete(url, headers=AUTH, timeout=5).status_code == 404


def test_error_body_shape_is_switchable(sandbox: Sandbox) -> None:
    """Both documented error shapes can be produced."""
    url = f"{sandbox.url}/crm/contacts/{uuid.uuid4()}"
    assert requests.delete(url, headers=AUTH, timeout=5).json()["success"] is False
    sandbox.state.set_faults(error_shape="error")
    assert set(requests.delete(url, headers=AUTH, timeout=5).json()) == {"error"}


def test_dropped_connection_fault_closes_without_an_answer(sandbox: Sandbox) -> None:
    """drop: the client sees a connection error."""
    sandbox.state.set_faults(script=[{"drop": True}])
    with pytest.raises(requests.ConnectionError):
        requests.delete(f"{sandbox.url}/crm/contacts/{uuid.uuid4()}", headers=AUTH, timeout=5)


def test_rate_limit_bucket_answers_429_once_its_tokens_are_spent(sandbox: Sandbox) -> None:
    """The default limiter holds `limit` tokens, refilled at `limit` per second."""
    sandbox.state.set_faults(rate_limit_per_second=2)
    url = f"{sandbox.url}/crm/contacts/{uuid.uuid4()}"
    statuses = [requests.delete(url, headers=AUTH, timeout=5).status_code for _ in range(4)]
    assert statuses == [404, 404, 429, 429]
    time.sleep(0.6)  # a token is back after 0.5 s
    assert requests.delete(url, headers=AUTH, timeout=5).status_code == 404


def test_rate_limit_window_answers_429_past_the_limit_in_one_second(sandbox: Sandbox) -> None:
    """Window mode: more calls in one wall-clock second than the limit get 429."""
    sandbox.state.set_faults(rate_limit_per_second=2, rate_limit_mode="window")
    url = f"{sandbox.url}/crm/contacts/{uuid.uuid4()}"
    # Align to the start of a wall-clock second so the burst falls in one window.
    time.sleep(1 - (time.time() % 1) + 0.01)
    statuses = [requests.delete(url, headers=AUTH, timeout=5).status_code for _ in range(4)]
    assert statuses == [404, 404, 429, 429]


def test_standard_objects_can_refuse_the_generic_delete(sandbox: Sandbox) -> None:
    """Whether people/companies accept DELETE /crm/{slug}/{id} is a switch."""
    (rid,) = sandbox.state.seed("people", [{}])
    sandbox.state.set_faults(standard_objects_deletable=False)
    assert (
        requests.delete(f"{sandbox.url}/crm/people/{rid}", headers=AUTH, timeout=5).status_code
        == 400
    )


def test_unknown_fault_switch_is_refused(sandbox: Sandbox) -> None:
    """A typo in a fault name is an error, not a silent no-op."""
    answer = requests.put(f"{sandbox.root}/_sandbox/faults", json={"latncy_ms": 5}, timeout=5)
    assert answer.status_code == 400


def test_keep_alive_client_is_answered_without_a_delayed_ack_stall(sandbox: Sandbox) -> None:
    """One kept-alive connection gets each answer at once (no 40 ms Nagle/delayed-ACK stall)."""
    ids = sandbox.state.seed("contacts", [{} for _ in range(30)])
    took = []
    with requests.Session() as session:
        for rid in ids:
            started = time.perf_counter()
            answer = session.delete(f"{sandbox.url}/crm/contacts/{rid}", headers=AUTH, timeout=5)
            took.append(time.perf_counter() - started)
            assert answer.status_code == 200
    took.sort()
    # The stall held every answer about 40 ms; a median well under it shows it is gone.
    assert took[len(took) // 2] < 0.02, f"median {took[len(took) // 2] * 1000:.1f} ms"
    assert sandbox.state.connections == 1


def test_connection_count_is_served_by_the_control_api(sandbox: Sandbox) -> None:
    """GET /_sandbox/stats counts the TCP connections accepted since the last reset."""
    requests.post(f"{sandbox.root}/_sandbox/reset", timeout=5)
    for _ in range(3):
        requests.get(f"{sandbox.root}/_sandbox/faults", timeout=5)  # a new connection each
    stats = requests.get(f"{sandbox.root}/_sandbox/stats", timeout=5).json()
    assert stats["connections"] == 4
