"""The naive worker's job, in a module of its own: a forked work horse imports only this."""

from __future__ import annotations

import requests


def delete(url: str, token: str) -> int:
    """The naive worker's whole job: one DELETE (a fresh connection each time, as peers do)."""
    headers = {"Authorization": f"Bearer {token}"}
    return requests.delete(url, headers=headers, timeout=10).status_code
