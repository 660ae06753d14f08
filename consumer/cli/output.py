"""How commands print: JSON with --json, else text; aligned tables; an event and its trail."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from consumer.models import shown

F = TypeVar("F", bound=Callable[..., Any])


def emit(data: Any, as_json: bool, text: str | None = None) -> None:
    """Print JSON with --json, else the readable text (or indented JSON)."""
    if as_json or text is None:
        click.echo(json.dumps(data, indent=None if as_json else 2, sort_keys=True, default=str))
    else:
        click.echo(text)


def json_option(func: F) -> F:
    """--json: machine-readable output."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as an aligned text table with a header line ("-" for empty cells)."""
    if not rows:
        return "(none)"
    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def cell(value: Any) -> str:
    """One value as table text: "-" when empty, a dict as key:value pairs, text escaped."""
    if value is None or value == "":
        return "-"
    if isinstance(value, dict):
        pairs = [(k, v) for k, v in value.items() if v not in (None, "", [], {})]
        return " ".join(f"{k}:{cell(v)}" for k, v in pairs) or "-"
    if isinstance(value, list):
        return ",".join(cell(v) for v in value)
    # Stored text (an older version's reason, a sender's id) never reaches the terminal raw.
    return shown(str(value))


def event_text(data: dict[str, Any]) -> str:
    """An event's fields, one a line, then its trail as a table."""
    head = "\n".join(f"{k:13}{cell(v)}" for k, v in data.items() if k != "trail")
    trail = [
        {
            "at": e.get("at"),
            "what": e.get("what"),
            "details": {k: v for k, v in e.items() if k not in ("at", "what")},
        }
        for e in data["trail"]
    ]
    return head + "\n\n" + table(trail, ("at", "what", "details"))
