"""Admin API for mappings: PUT/GET/DELETE /admin/mappings/<source>/<object>/<external_id>."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_mappings", __name__, url_prefix="/admin/mappings")
