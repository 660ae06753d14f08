"""The sandbox's CRM endpoints: records in memory, answering as ZEEG_API.md describes."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from consumer.models import OBJECT_SLUG, RECORD_ID

if TYPE_CHECKING:
    from consumer.devtools.sandbox_state import SandboxState

STANDARD_OBJECTS = ("people", "companies")
Answer = tuple[int, Any]


def answer(
    state: SandboxState, method: str, parts: list[str], body: Any, query: dict[str, str]
) -> Answer:
    """(status, JSON body or error message) for one CRM call."""
    if len(parts) == 2 and parts[0] == "objects" and method == "GET":
        return _schema(state, parts[1])
    if not parts or not OBJECT_SLUG.match(parts[0]):
        return 404, "Object not found."
    obj = parts[0]
    if len(parts) == 2:
        if not RECORD_ID.match(parts[1]):
            return 404, "Record not found."
        return _one(state, method, obj, parts[1].lower(), body)
    if len(parts) == 1:
        return _many(state, method, obj, body, query)
    return 404, "Not found."


def _schema(state: SandboxState, slug: str) -> Answer:
    if not OBJECT_SLUG.match(slug):
        return 404, "Object not found."
    with state.lock:
        keys = sorted({k for r in state.records.get(slug, {}).values() for k in r["attributes"]})
    attributes = [{"key": k, "type": "text", "isUnique": False} for k in keys]
    return 200, {"slug": slug, "isStandard": slug in STANDARD_OBJECTS, "attributes": attributes}


def _one(state: SandboxState, method: str, obj: str, rid: str, body: Any) -> Answer:
    locked = method == "DELETE" and obj in STANDARD_OBJECTS
    if locked and not state.faults["standard_objects_deletable"]:
        return 400, "Standard object records cannot be deleted through this endpoint."
    with state.lock:
        records = state.records.get(obj, {})
        if rid not in records:
            return 404, "Record not found."
        if method == "GET":
            return 200, {"success": True, "status": 200, "record": records[rid]}
        if method == "DELETE":
            if state.faults["phantom_deletes"] > 0:
                # Acknowledged, not done: what verify_deletions exists to catch.
                state.faults["phantom_deletes"] -= 1
            else:
                del records[rid]
            return 200, {"success": True, "status": 200, "message": "Record deleted."}
        if method == "PATCH":
            records[rid]["attributes"].update((body or {}).get("attributes") or {})
            return 200, {"success": True, "status": 200, "record": records[rid]}
    return 405, "Method not allowed."


def _many(state: SandboxState, method: str, obj: str, body: Any, query: dict[str, str]) -> Answer:
    if method == "GET":
        return _list(state, obj, query)
    attributes = (body or {}).get("attributes")
    if not isinstance(attributes, dict):
        return 422, "attributes: required."
    if method == "POST":
        rid = state.seed(obj, [{"attributes": attributes}])[0]
        return 201, _envelope(state, obj, rid, 201)
    if method == "PUT":
        return _upsert(state, obj, attributes, query.get("matchingAttribute", ""))
    return 405, "Method not allowed."


def _upsert(state: SandboxState, obj: str, attributes: dict[str, Any], attr: str) -> Answer:
    if not attr or attr not in attributes:
        return 400, "matchingAttribute must name an attribute present in the body."
    rid = ""
    with state.lock:
        for candidate, rec in state.records.get(obj, {}).items():
            if rec["attributes"].get(attr) == attributes[attr]:
                rec["attributes"].update(attributes)
                rid = candidate
                break
    if rid:
        return 200, _envelope(state, obj, rid, 200)
    rid = state.seed(obj, [{"id": str(uuid.uuid4()), "attributes": attributes}])[0]
    return 201, _envelope(state, obj, rid, 201)


def _envelope(state: SandboxState, obj: str, rid: str, status: int) -> dict[str, Any]:
    key = "person" if obj == "people" else "record"
    with state.lock:
        record = dict(state.records[obj][rid])
    return {"success": True, "status": status, key: record}


def _list(state: SandboxState, obj: str, query: dict[str, str]) -> Answer:
    try:
        page = int(query.get("page", "1"))
        count = int(query.get("count", "20"))
    except ValueError:
        return 400, "page and count must be integers."
    if page < 1 or not 1 <= count <= 100:
        return 400, "page starts at 1; count is 1-100."
    with state.lock:
        records = sorted(state.records.get(obj, {}).values(), key=lambda r: r["id"])
    total = len(records)
    pages = max(1, -(-total // count))
    chunk = records[(page - 1) * count : page * count]
    pagination = {
        "total": total,
        "count": len(chunk),
        "totalPages": pages,
        "currentPage": page,
        "previousPage": page - 1 if page > 1 else None,
        "nextPage": page + 1 if page < pages else None,
    }
    return 200, {"collection": chunk, "pagination": pagination, "servedAt": time.time()}
