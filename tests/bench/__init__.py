"""Benchmarks and chaos runs (`python -m tests.bench ...`), with the few helpers they share."""

from __future__ import annotations

import argparse
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


def options(doc: str | None, **defaults: float) -> argparse.Namespace:
    """Parse `--name value` options, one per default, typed like the default."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    for name, default in defaults.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    return parser.parse_args()
