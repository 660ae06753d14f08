"""Admin API for mappings: PUT/GET/DELETE one external id, bulk POST of JSON lines."""

from __future__ import annotations

import json
import time

import pytest
from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue
from consumer.store import keys, mappings
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import RedisServer, make_settings

RID = "3f2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
RID2 = "0a2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
AUTH = {"Authorization": "Bearer admin-secret"}
URL = "/admin/mappings/userdb/contacts/u:1/x"


@pytest.fixture
def admin(sandbox: Sandbox, redis_server: RedisServer, conns: Connections) -> FlaskClient:
    env = {"REDIS_URL": redis_server.url, "CONSUMER_ADMIN_TOKEN": "admin-secret"}
    return create_app(make_settings(sandbox.url, env=env), redis=conns).test_client()


def _line(external_id: str, record_id: str = RID) -> str:
    row = {
        "source": "userdb",
        "object": "contacts",
        "external_id": external_id,
        "record_id": record_id,
    }
    return json.dumps(row)


def test_put_then_get_shows_the_link(admin: FlaskClient) -> None:
    """PUT links a record (external ids may hold ':' and '/'); GET lists it."""
    answer = admin.put(
        URL, json={"record_id": RID, "linked_at": "2024-01-01T00:00:00Z"}, headers=AUTH
    )
    assert answer.status_code == 200
    got = admin.get(URL, headers=AUTH)
    assert got.status_code == 200
    assert got.json == {
        "source": "userdb",
        "object": "contacts",
        "external_id": "u:1/x",
        "records": [{"record_id": RID, "linked_at": 1704067200.0}],
    }


def test_put_adds_a_second_record_without_dropping_the_first(admin: FlaskClient) -> None:
    """Several records for one external id: PUT adds, it does not replace."""
    admin.put(URL, json={"record_id": RID}, headers=AUTH)
    answer = admin.put(URL, json={"record_id": RID2}, headers=AUTH)
    assert {r["record_id"] for r in answer.json["records"]} == {RID, RID2}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"record_id": "nope"}, 422, "invalid_identifier"),
        ({"record_id": RID, "linked_at": "yesterday"}, 422, "invalid_field"),
        ({"record_id": RID, "linked_at": 1e300}, 422, "invalid_field"),
        (["not", "an", "object"], 400, "invalid_body"),
    ],
)
def test_put_refuses_bad_input_with_a_json_error(
    admin: FlaskClient, body: object, status: int, code: str
) -> None:
    """Bad record ids, times and bodies answer {"error", "message"} without storing anything."""
    answer = admin.put(URL, json=body, headers=AUTH)
    assert answer.status_code == status
    assert answer.json["error"] == code and answer.json["message"]
    assert admin.get(URL, headers=AUTH).status_code == 404


def test_bad_object_slug_in_the_path_is_422(admin: FlaskClient) -> None:
    """Identifiers in the path are checked before they reach a key."""
    answer = admin.get("/admin/mappings/userdb/x/u-1", headers=AUTH)
    assert (answer.status_code, answer.json["error"]) == (422, "invalid_identifier")


def test_delete_unlinks_one_record_or_all(admin: FlaskClient, conns: Connections) -> None:
    """DELETE ?record_id= unlinks one; DELETE alone unlinks the rest; then 404."""
    for rid in (RID, RID2):
        admin.put(URL, json={"record_id": rid}, headers=AUTH)
    assert admin.delete(URL + f"?record_id={RID}", headers=AUTH).json == {"removed": 1}
    assert admin.delete(URL, headers=AUTH).json == {"removed": 1}
    assert admin.delete(URL, headers=AUTH).status_code == 404


def test_put_on_a_tombstoned_id_with_an_earlier_time_enqueues_erasure(
    admin: FlaskClient, conns: Connections
) -> None:
    """Late link through the admin API: the answer names the erasure event."""
    conns.text.set(keys.tombstone("userdb", "u:1/x"), repr(time.time()))
    body = {"record_id": RID, "linked_at": "2024-01-01T00:00:00Z"}
    answer = admin.put(URL, json=body, headers=AUTH)
    assert len(answer.json["erasures"]) == 1
    assert len(erasure_queue(conns.raw)) == 1


def test_bulk_post_links_good_lines_and_reports_bad_ones(
    admin: FlaskClient, conns: Connections
) -> None:
    """POST /admin/mappings: JSON lines; bad lines are listed by number and skipped."""
    body = "\n".join([_line("b-1"), "{broken", _line("b-2", "nope"), _line("b-3")])
    answer = admin.post("/admin/mappings", data=body, headers=AUTH)
    assert answer.status_code == 200
    assert answer.json["linked"] == 2
    assert [e["line"] for e in answer.json["errors"]] == [2, 3]
    assert mappings.get(conns.text, "userdb", "contacts", "b-3")[0].record_id == RID


def test_bulk_post_with_only_bad_lines_is_422(admin: FlaskClient) -> None:
    """Nothing valid: 422 with the usual error fields and the bad lines."""
    answer = admin.post("/admin/mappings", data="{broken\n", headers=AUTH)
    assert answer.status_code == 422
    assert answer.json["error"] == "invalid_lines" and answer.json["errors"][0]["line"] == 1


def test_bulk_post_of_an_empty_body_is_400(admin: FlaskClient) -> None:
    """An empty body has nothing to import."""
    answer = admin.post("/admin/mappings", data="", headers=AUTH)
    assert (answer.status_code, answer.json["error"]) == (400, "invalid_body")


def test_mappings_api_needs_the_admin_token(admin: FlaskClient) -> None:
    """Without the Bearer token: 401, and nothing is linked."""
    assert admin.put(URL, json={"record_id": RID}).status_code == 401
    assert admin.post("/admin/mappings", data=_line("b-1")).status_code == 401
    assert admin.get(URL, headers=AUTH).status_code == 404


def test_mappings_api_is_404_when_the_admin_api_is_off(client: FlaskClient) -> None:
    """No CONSUMER_ADMIN_TOKEN configured: the routes do not exist."""
    assert client.get(URL, headers=AUTH).status_code == 404
    assert client.put(URL, json={"record_id": RID}, headers=AUTH).status_code == 404


def test_put_for_a_source_that_is_not_configured_is_422(admin: FlaskClient) -> None:
    """A link for an unknown source could never be used: refused, nothing stored."""
    url = "/admin/mappings/nosuch/contacts/u-1"
    answer = admin.put(url, json={"record_id": RID}, headers=AUTH)
    assert (answer.status_code, answer.json["error"]) == (422, "invalid_field")
    assert admin.get(url, headers=AUTH).status_code == 404


def test_delete_with_a_malformed_record_id_is_422_and_unlinks_nothing(admin: FlaskClient) -> None:
    """DELETE ?record_id= of the wrong shape is refused, not answered 'no mapping'."""
    admin.put(URL, json={"record_id": RID}, headers=AUTH)
    answer = admin.delete(URL + "?record_id=nope", headers=AUTH)
    assert (answer.status_code, answer.json["error"]) == (422, "invalid_identifier")
    assert len(admin.get(URL, headers=AUTH).json["records"]) == 1


def test_bulk_post_of_a_tombstoned_id_erases_older_links_and_spares_newer(
    admin: FlaskClient, conns: Connections
) -> None:
    """Late link through the bulk API: a link without linked_at is erased, a later one kept."""
    conns.text.set(keys.tombstone("userdb", "b-tomb"), repr(time.time() - 60))
    newer = json.dumps({**json.loads(_line("b-tomb", RID2)), "linked_at": time.time()})
    answer = admin.post("/admin/mappings", data=f"{_line('b-tomb')}\n{newer}\n", headers=AUTH)
    assert (len(answer.json["erasures"]), answer.json["spared"]) == (1, 1)
    assert len(erasure_queue(conns.raw)) == 1


def test_a_link_of_unknown_age_shows_linked_at_null(admin: FlaskClient) -> None:
    """A bulk line without linked_at is stored as unknown (0) and shown as null, not 1970."""
    admin.post("/admin/mappings", data=_line("u:1/x") + "\n", headers=AUTH)
    assert admin.get(URL, headers=AUTH).json["records"] == [{"record_id": RID, "linked_at": None}]


def test_bulk_post_with_a_byte_order_mark_is_read(admin: FlaskClient, conns: Connections) -> None:
    """A JSON-lines body saved with a UTF-8 byte order mark imports like one without."""
    body = "\ufeff" + _line("b-bom") + "\n"
    answer = admin.post("/admin/mappings", data=body.encode("utf-8"), headers=AUTH)
    assert (answer.status_code, answer.json["linked"]) == (200, 1)
