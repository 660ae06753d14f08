"""End to end over real HTTP: batched and id-less senders reach Zeeg once per deletion."""

from __future__ import annotations

import json

import requests
import stripe

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.settings import Settings
from consumer.store import mappings
from consumer.store.connection import Connections
from tests.helpers import SENDER_ENV, deletes, drain, okta_body, okta_event


def _mapped(conns: Connections, sandbox: Sandbox, source: str, *external_ids: str) -> list[str]:
    rids = sandbox.state.seed("contacts", [{} for _ in external_ids])
    for ext, rid in zip(external_ids, rids, strict=True):
        mappings.put(conns.text, Mapping(source, "contacts", ext, rid, 1.0))
    return rids


def test_okta_batch_deletes_each_user_once(
    senders_url: str, senders: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Two deletions in one Okta delivery, sent twice: two DELETEs, no more."""
    rids = _mapped(conns, sandbox, "okta", "00uA", "00uB")
    body = okta_body(okta_event("ok-1", "00uA"), okta_event("ok-2", "00uB"))
    headers = {"Content-Type": "application/json", "Authorization": SENDER_ENV["OKTA_TOKEN"]}
    first = requests.post(f"{senders_url}/webhooks/okta", data=body, headers=headers, timeout=10)
    again = requests.post(f"{senders_url}/webhooks/okta", data=body, headers=headers, timeout=10)
    assert (first.status_code, again.status_code) == (202, 200)
    drain(senders, conns)
    assert sorted(r["path"] for r in deletes(sandbox)) == sorted(
        f"/crm/contacts/{rid}" for rid in rids
    )


def test_supabase_redelivery_without_an_id_deletes_once(
    senders_url: str, senders: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """The derived id dedupes a Supabase retry: one DELETE."""
    (rid,) = _mapped(conns, sandbox, "supabase", "row-1")
    body = json.dumps(
        {"type": "DELETE", "table": "t", "record": None, "old_record": {"id": "row-1"}}
    )
    headers = {"Content-Type": "application/json", "Authorization": SENDER_ENV["SUPABASE_TOKEN"]}
    for _ in range(2):
        requests.post(f"{senders_url}/webhooks/supabase", data=body, headers=headers, timeout=10)
    drain(senders, conns)
    assert sorted(r["path"] for r in deletes(sandbox)) == [f"/crm/contacts/{rid}"]


def test_stripe_customer_deleted_over_http_deletes_the_record(
    senders_url: str, senders: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """A Stripe-signed customer.deleted (stripe library) erases the mapped record."""
    (rid,) = _mapped(conns, sandbox, "stripe", "cus_E2E")
    raw = json.dumps(
        {
            "id": "evt_e2e",
            "type": "customer.deleted",
            "created": 1700000000,
            "data": {"object": {"id": "cus_E2E", "object": "customer"}},
        }
    )
    sig = stripe.WebhookSignature.generate_signature_header(raw, SENDER_ENV["STRIPE_SECRET"])
    headers = {"Content-Type": "application/json", "Stripe-Signature": sig}
    answer = requests.post(f"{senders_url}/webhooks/stripe", data=raw, headers=headers, timeout=10)
    assert answer.status_code == 202
    drain(senders, conns)
    assert sorted(r["path"] for r in deletes(sandbox)) == [f"/crm/contacts/{rid}"]
