"""Benchmarks and chaos runs (`python -m tests.bench ...`), with the few helpers they share."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests


def wait_for_ok(
    url: str, *, every: float, failure: Exception, still_up: Callable[[], None] = lambda: None
) -> None:
    """Poll `url` until it answers 200 within 30 s, else raise `failure`; `still_up` may assert."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        still_up()
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(every)
    raise failure
