"""Admin API for the proof of erasures: receipts, the public key and the chain checkpoints.

GET /admin/receipts/<source>/<event_id> (a signed erasure receipt), GET /admin/audit/public-key,
GET /admin/audit/checkpoints (newest first) and POST /admin/audit/checkpoint (take one now).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from consumer import signing
from consumer.errors import OperatorError
from consumer.ops import receipts
from consumer.store import checkpoints
from consumer.web.admin import require_admin
from consumer.web.errors import error
from consumer.web.state import state

bp = Blueprint("admin_receipts", __name__, url_prefix="/admin")
MAX_CHECKPOINTS = 1000


@bp.get("/receipts/<source>/<path:event_id>")
@require_admin
def receipt(source: str, event_id: str) -> ResponseReturnValue:
    """The receipt of one done or failed event (409 while it is unfinished)."""
    return jsonify(receipts.receipt(state().ops(), source, event_id))


@bp.get("/audit/public-key")
@require_admin
def public_key() -> ResponseReturnValue:
    """The public key receipts and checkpoints are signed with (404 without a key)."""
    key = state().settings.signing_key
    if key is None:
        return error(
            404, "no_signing_key", "No AUDIT_SIGNING_KEY is configured: nothing is signed."
        )
    return jsonify(algorithm=signing.ALGORITHM, public_key=key.public, key_id=key.key_id)


@bp.get("/audit/checkpoints")
@require_admin
def checkpoint_list() -> ResponseReturnValue:
    """The newest checkpoints of the audit chain, newest first (limit, default 10)."""
    limit = request.args.get("limit", "10")
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit[:5]) <= MAX_CHECKPOINTS:
        raise OperatorError(f"limit must be a whole number from 1 to {MAX_CHECKPOINTS}")
    return jsonify(checkpoints=checkpoints.latest(state().r, int(limit)))


@bp.post("/audit/checkpoint")
@require_admin
def checkpoint_now() -> ResponseReturnValue:
    """Take a checkpoint of the chain head now."""
    s = state()
    return jsonify(checkpoints.take(s.r, s.settings.signing_key, s.clock(), "manual")), 201
