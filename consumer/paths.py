"""Dotted field paths, parsed once at configuration load (see consumer.sources.fields).

A dotted path is steps joined by "."; a step is an object key, a list index (digits), or a key
followed by a selector, `key[field=value]`: the first entry of the list at key that is an
object whose field equals value as a string (a string as-is, an integer by its decimal form).
No such entry is a missing value, like any missing step.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# A step: a key without ".[]", optionally followed by [field=value]; value may hold "." and "=".
_STEP = r"[^.\[\]]+(?:\[[^.\[\]=]+=[^\[\]]*\])?"
_PATH = re.compile(rf"{_STEP}(?:\.{_STEP})*")
_PARTS = re.compile(r"(?:^|\.)([^.\[\]]+)(?:\[([^.\[\]=]+)=([^\[\]]*)\])?")


@dataclass(frozen=True)
class Step:
    """One step of a dotted path: a key (or list index), and an optional [field=value] selector."""

    key: str
    field: str | None = None
    value: str = ""


@functools.cache
def compile_path(path: str) -> tuple[Step, ...]:
    """The steps of a dotted path, parsed once per path; ValueError when it is malformed."""
    if not _PATH.fullmatch(path):
        raise ValueError(
            f"malformed field path {path!r} (steps joined by '.'; a selector is key[field=value])"
        )
    return tuple(Step(m[1], m[2], m[3] or "") for m in _PARTS.finditer(path))


def path_problem(path: str) -> str | None:
    """Why a configured field path (dotted or header:<Name>) is malformed, or None."""
    if path.startswith("header:"):
        return None if path[len("header:") :] else "header: needs a header name"
    try:
        compile_path(path)
    except ValueError as e:
        return str(e)
    return None
