"""The operator API under /admin: Bearer CONSUMER_ADMIN_TOKEN, compared in constant time.

No token configured: every /admin path answers 404, as if the API did not exist.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from consumer.errors import OperatorError
from consumer.models import BY_LIMIT, REASON_LIMIT, check_free_text
from consumer.ops import Ops, parse_time
from consumer.ops import audit as au
from consumer.ops import erase as er
from consumer.ops import events as ev
from consumer.ops import failed as fl
from consumer.ops import replay as rp
from consumer.ops import status as st
from consumer.store import checkpoints
from consumer.web.errors import error
from consumer.web.state import state

bp = Blueprint("admin", __name__, url_prefix="/admin")
REPLAY_FIELDS = (*ev.FILTER_FIELDS, "dry_run", "reason", "by")


def _refusal() -> ResponseReturnValue | None:
    """404 when the admin API is off, 401 for a missing or wrong Bearer token, else None."""
    settings = state().settings
    if not settings.admin_token:
        return error(404, "not_found", "The requested URL was not found on the server.")
    offered = request.headers.get("Authorization", "")
    expected = f"Bearer {settings.admin_token}"
    if not hmac.compare_digest(offered.encode(), expected.encode()):
        return error(401, "unauthorized", "A valid admin Bearer token is required.")
    return None


def require_admin(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """404 when the admin API is off, 401 for a missing or wrong Bearer token."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        return _refusal() or view(*args, **kwargs)

    return wrapped


@bp.before_app_request
def guard() -> ResponseReturnValue | None:
    """The same check before routing answers: no 405, redirect or OPTIONS reply reveals /admin."""
    if request.blueprint == "page":  # the status page checks its own session (web/page.py)
        return None
    if request.path == "/admin" or request.path.startswith("/admin/"):
        return _refusal()
    return None


def _ops() -> Ops:
    return state().ops()


def _body() -> dict[str, Any]:
    """The JSON object a POST carries ({} when empty)."""
    if not request.get_data(cache=True):
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise OperatorError("the body must be a JSON object")
    return body


def _fields(body: dict[str, Any], *allowed: str) -> dict[str, Any]:
    """The body if it names only allowed fields: a misspelt filter must not widen a replay."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise OperatorError(f"unknown field {unknown[0]!r}: use {', '.join(allowed)}")
    return body


def _flag(body: dict[str, Any], name: str) -> bool:
    """A true/false field (absent is false); any other value is refused, never guessed."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise OperatorError(f'"{name}" must be true or false')
    return value


def _who(body: dict[str, Any]) -> str:
    """Who acts, for the trail: the caller's "by" if given, else the remote address."""
    by = body.get("by")
    if by is None or by == "":
        by = request.remote_addr or "unknown"
    # It is logged and shown: a newline or an escape sequence in it could forge a line.
    return "admin-api:" + check_free_text(by, '"by"', BY_LIMIT)


def _reason(body: dict[str, Any], default: str | None = None) -> str:
    """The body's "reason" (default when absent or empty), checked as operator free text."""
    reason = body.get("reason")
    if default is not None and (reason is None or reason == ""):
        return default
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        raise OperatorError('"reason" is required: it is recorded in each event\'s trail')
    return check_free_text(reason, '"reason"', REASON_LIMIT)


@bp.get("/status")
@require_admin
def status() -> ResponseReturnValue:
    """Queue, registries, workers, pause, last hour's deletions, SLA risk."""
    return jsonify(st.status(_ops()))


@bp.get("/events")
@require_admin
def events_search() -> ResponseReturnValue:
    """Events matching the query filters, newest first (limit, default 100)."""
    ops = _ops()
    query: dict[str, Any] = {**request.args.to_dict(), "event_id": request.args.getlist("event_id")}
    filters = ev.filters_from(query, ops.clock())
    limit = request.args.get("limit", "100")
    # ASCII digits, and few of them: "²".isdigit() is true, and int() of 5000 digits raises.
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 9):
        raise OperatorError("limit must be a whole number")
    return jsonify(events=ev.search_events(ops.r, filters, int(limit)))


@bp.get("/events/<source>/<path:event_id>")
@require_admin
def events_show(source: str, event_id: str) -> ResponseReturnValue:
    """One event with its whole trail."""
    return jsonify(ev.show_event(_ops().r, source, event_id))


@bp.get("/failed")
@require_admin
def failed() -> ResponseReturnValue:
    """Every failed job with its reason."""
    return jsonify(failed=fl.list_failed(_ops()))


@bp.get("/failed/<job_id>")
@require_admin
def failed_show(job_id: str) -> ResponseReturnValue:
    """One failed job with its event's trail."""
    return jsonify(fl.show_failed(_ops(), job_id))


@bp.post("/requeue")
@require_admin
def requeue() -> ResponseReturnValue:
    """Requeue {"job_ids": [...]} or {"all": true} failed jobs, with a "reason"."""
    body = _fields(_body(), "job_ids", "all", "reason", "by")
    ids = body.get("job_ids")
    if _flag(body, "all") == (ids is not None):
        raise OperatorError('give "job_ids" (a list of strings) or "all": true, not both')
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise OperatorError('"job_ids" must be a list of strings')
    done = fl.requeue(_ops(), ids, by=_who(body), reason=_reason(body))
    return jsonify(requeued=done)


@bp.post("/replay")
@require_admin
def replay() -> ResponseReturnValue:
    """Replay events matching the filters ("dry_run": count and sample only)."""
    body = _fields(_body(), *REPLAY_FIELDS)
    dry_run = _flag(body, "dry_run")
    ops = _ops()
    selected = rp.select(ops, ev.filters_from(body, ops.clock()))
    if dry_run:
        return jsonify(rp.preview(selected))
    by, reason = _who(body), _reason(body)
    return jsonify(replayed=list(rp.replay(ops, selected, by=by, reason=reason)))


@bp.post("/erase")
@require_admin
def erase() -> ResponseReturnValue:
    """Erase {"source", "external_id"} through the webhook pipeline."""
    body = _fields(_body(), "source", "external_id", "reason", "by")
    source, external_id = body.get("source"), body.get("external_id")
    if not isinstance(source, str) or not isinstance(external_id, str):
        raise OperatorError('"source" and "external_id" are required strings')
    by, reason = _who(body), _reason(body, default=er.DEFAULT_REASON)
    return jsonify(er.erase(_ops(), source, external_id, by=by, reason=reason)), 202


@bp.get("/audit")
@require_admin
def audit() -> ResponseReturnValue:
    """The audit entries within since/until as JSON lines (format=csv for CSV)."""
    ops = _ops()
    now = ops.clock()
    since, until = (
        parse_time(request.args.get("since"), now),
        parse_time(request.args.get("until"), now),
    )
    fmt = request.args.get("format", "jsonl")
    if fmt not in au.FORMATS:
        raise OperatorError("format must be jsonl or csv")
    mimetype = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    # Every export takes a checkpoint first (GET /admin/audit/checkpoints lists it).
    checkpoints.take(ops.r, ops.settings.signing_key, now, "export")
    # Streamed: an export of a year of erasures need not fit in memory.
    return Response(au.export(ops.r, fmt, since, until), mimetype=mimetype)


@bp.post("/pause")
@require_admin
def pause() -> ResponseReturnValue:
    """Pause delivery on every worker with a "reason"."""
    body = _fields(_body(), "reason", "by")
    return jsonify(st.pause_delivery(_ops(), _reason(body), _who(body)))


@bp.post("/resume")
@require_admin
def resume() -> ResponseReturnValue:
    """Lift the pause and requeue the jobs that waited on it."""
    return jsonify(st.resume_delivery(_ops(), _who(_fields(_body(), "by"))))


@bp.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "DELETE"])
@bp.route("/<path:path>", methods=["GET", "POST", "PUT", "DELETE"])
@require_admin
def unknown(path: str) -> ResponseReturnValue:
    """Any admin path without a route: 404 after the auth check (no probing without a token)."""
    return error(404, "not_found", "No such admin endpoint.")
