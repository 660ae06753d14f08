"""What a configuration table may hold, derived from the dataclasses, and its one validator.

A section of the file is a frozen dataclass in model.py: its fields are the keys, their type
hints the kinds and their defaults the defaults, so a setting is declared once. Source tables
and preset options, whose keys are not one dataclass's fields, declare a `Schema` by hand;
`check_table` checks all three the same way and words their problems the same way.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

# Field metadata. ZERO_OK: a number for which 0 means something (no limit, no backoff, no
# wait, no grace); every other number must be positive, as a zero TTL, timeout or burst would
# break delivery at run time. FROM_ENV: a field the environment sets, never a key of the file.
ZERO_OK: Mapping[str, bool] = {"zero_ok": True}
FROM_ENV: Mapping[str, bool] = {"from_env": True}

Range = Literal["any", "non-negative", "positive"]


@dataclass(frozen=True)
class Key:
    """How one key of a table is checked: its kind and, for numbers, the range it lies in."""

    # What typed() accepts; `object` takes any value, which the key's own reader then checks.
    kind: type
    range: Range = "any"
    # Also accepted: a table of event type = value of kind (options.external_id_prefix).
    by_event_type: bool = False


@dataclass(frozen=True)
class Schema:
    """The keys one kind of table may hold, and how its problems are worded."""

    keys: Mapping[str, Key]
    # Put before each key in a message: "options." names an option as options.<key>.
    prefix: str = ""
    # The problem of a key not in keys; {known} lists the keys that are.
    unknown: str = "unknown key"


def typed(value: Any, kind: type) -> bool:
    """Whether a TOML value has the kind a key asks for (bools are not numbers)."""
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


@cache
def schema_of(cls: type) -> Schema:
    """The keys of a section: its dataclass's fields, minus those the environment sets."""
    hints = typing.get_type_hints(cls)
    keys = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("from_env"):
            continue
        kind = hints[f.name]
        rng: Range = "any"
        if kind in (int, float):
            rng = "non-negative" if f.metadata.get("zero_ok") else "positive"
        keys[f.name] = Key(kind, rng)
    return Schema(keys)


def defaults_of(cls: type) -> dict[str, Any]:
    """The default of every key of a section, as its dataclass declares it."""
    return {
        f.name: f.default
        for f in dataclasses.fields(cls)
        if not f.metadata.get("from_env") and f.default is not dataclasses.MISSING
    }


def check_table(
    table: Mapping[str, Any], schema: Schema, where: str, problems: list[str]
) -> dict[str, Any]:
    """The keys of table that pass schema (floats as float); a problem for each that does not."""
    values = {}
    for key, value in table.items():
        spec = schema.keys.get(key)
        if spec is None:
            problem: str | None = schema.unknown.format(known=", ".join(sorted(schema.keys)))
        else:
            problem = _problem(value, spec)
        if problem:
            problems.append(f"{where} {schema.prefix}{key}: {problem}")
        elif spec is not None:
            values[key] = float(value) if spec.kind is float else value
    return values


def _problem(value: Any, spec: Key) -> str | None:
    """Why value does not fit spec, or None."""
    name = spec.kind.__name__
    if spec.by_event_type and isinstance(value, Mapping):
        ok = all(typed(v, spec.kind) for v in value.values())
        return None if ok else f"a table's values must be {name}"
    if not typed(value, spec.kind):
        return f"must be {name}"
    if spec.range != "any" and value < 0:
        return "must not be negative"
    if spec.range == "positive" and value == 0:
        return "must be greater than 0"
    return None
