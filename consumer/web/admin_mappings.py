"""Admin API for mappings: PUT/GET/DELETE /admin/mappings/<source>/<object>/<external_id>.

POST /admin/mappings takes JSON lines (the import format); bad lines are reported with
their numbers and skipped, as `mappings import` does. Every write goes through
consumer.mappings.linking, so a link to a tombstoned external id is erased at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from consumer.errors import InvalidFile, InvalidIdentifier
from consumer.mappings.files import BAD_LINKED_AT, Row, RowError, parse_linked_at, read_rows
from consumer.mappings.linking import LinkReport, link_rows
from consumer.models import (
    Mapping,
    check_external_id,
    check_object_slug,
    check_record_id,
    check_source_name,
)
from consumer.store import mappings as store
from consumer.web.admin import require_admin
from consumer.web.errors import error
from consumer.web.state import state

bp = Blueprint("admin_mappings", __name__, url_prefix="/admin/mappings")

_PATH = "/<source>/<object_slug>/<path:external_id>"


def _link(rows: Iterable[Row | RowError]) -> LinkReport:
    s = state()
    return link_rows(s.r, s.queue, s.settings, rows, s.clock())


def _checked(source: str, obj: str, external_id: str) -> tuple[str, str, str]:
    return check_source_name(source), check_object_slug(obj), check_external_id(external_id)


def _listing(source: str, obj: str, external_id: str) -> dict[str, Any]:
    found = store.get(state().r, source, obj, external_id)
    # linked_at null: imported without a time (older than any event).
    records = [{"record_id": m.record_id, "linked_at": m.linked_at or None} for m in found]
    return {"source": source, "object": obj, "external_id": external_id, "records": records}


@bp.errorhandler(InvalidIdentifier)
def invalid_identifier(e: InvalidIdentifier) -> ResponseReturnValue:
    """A source, slug, external id or record id of the wrong shape."""
    return error(422, "invalid_identifier", str(e))


@bp.get(_PATH)
@require_admin
def get_mapping(source: str, object_slug: str, external_id: str) -> ResponseReturnValue:
    """The record ids linked to one external id."""
    listing = _listing(*_checked(source, object_slug, external_id))
    if not listing["records"]:
        return error(404, "not_found", "No mapping for this external id.")
    return jsonify(listing)


@bp.put(_PATH)
@require_admin
def put_mapping(source: str, object_slug: str, external_id: str) -> ResponseReturnValue:
    """Link a record: body {"record_id", "linked_at"?}; other linked records stay."""
    source, obj, external_id = _checked(source, object_slug, external_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "invalid_body", "The body must be a JSON object with record_id.")
    given = body.get("linked_at")
    linked_at = state().clock() if given in (None, "") else parse_linked_at(given)
    if linked_at is None:
        return error(422, "invalid_field", f"{BAD_LINKED_AT}.")
    rid = check_record_id(str(body.get("record_id") or ""))
    report = _link([Row(Mapping(source, obj, external_id, rid, linked_at), 1, given in (None, ""))])
    if report.errors:
        return error(422, "invalid_field", report.errors[0].reason)
    return jsonify({**_listing(source, obj, external_id), "erasures": report.erasures})


@bp.delete(_PATH)
@require_admin
def delete_mapping(source: str, object_slug: str, external_id: str) -> ResponseReturnValue:
    """Unlink ?record_id=, or every record of the external id; Zeeg is not called."""
    source, obj, external_id = _checked(source, object_slug, external_id)
    rid = request.args.get("record_id")
    if rid is not None:
        rid = check_record_id(rid)
    removed = store.unlink(state().r, source, obj, external_id, rid)
    if not removed:
        return error(404, "not_found", "No mapping for this external id.")
    return jsonify({"removed": removed})


@bp.post("")
@require_admin
def bulk() -> ResponseReturnValue:
    """Link many: a body of JSON lines in the import format; a report of what happened."""
    text = request.get_data(as_text=True).removeprefix("\ufeff")
    if text.lstrip()[:1] not in ("{", ""):
        return error(400, "invalid_body", "The body must be JSON lines, one mapping object each.")
    try:
        # \n only: str.splitlines() also breaks on U+2028 and kin, which a JSON string may
        # hold raw, and would split a line and misnumber the rest (a \r left is whitespace).
        report = _link(read_rows(text.split("\n")))
    except InvalidFile as e:
        return error(400, "invalid_body", f"Nothing to import: {e}.")
    if report.error_count and not (report.linked or report.unchanged):
        message = "No line was valid; each bad line is listed under errors."
        return jsonify(error="invalid_lines", message=message, **report.as_dict()), 422
    return jsonify(report.as_dict())
