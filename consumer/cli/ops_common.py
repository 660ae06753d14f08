"""What the operator commands share: the Ops context, error handling, tables, --by."""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
import redis

from consumer.cli import fail, get_settings
from consumer.errors import ConsumerError, OperatorError
from consumer.models import BY_LIMIT, REASON_LIMIT, check_free_text, shown
from consumer.ops import Ops
from consumer.store.connection import connect

F = TypeVar("F", bound=Callable[..., Any])


def get_ops() -> Ops:
    """The operator context for this command (settings from --config / CONSUMER_CONFIG)."""
    settings = get_settings()
    return Ops(settings, connect(settings.redis_url))


def operator_command(func: F) -> F:
    """Turn a ConsumerError or an unreachable Redis into one line on stderr and exit 1."""

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConsumerError as e:
            fail(str(e))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            fail("Redis is unavailable (check REDIS_URL)")

    return wrapped  # type: ignore[return-value]


def whoami() -> str:
    """Who runs this command, for the trail: the login name."""
    try:
        # getuser() reads $LOGNAME and $USER first: they are checked like --by.
        return "cli:" + check_free_text(getpass.getuser(), "login name", BY_LIMIT)
    except (KeyError, OSError, OperatorError):
        return "cli:unknown"


def free_text(
    limit: int, blank_is_default: bool = False
) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A click callback checking an option as operator free text (one line and exit 1 if not)."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        # --by "" means the default (the login name), as "by": "" does over HTTP.
        if value is None or (blank_is_default and value == ""):
            return None
        try:
            return check_free_text(value, f"--{param.name}", limit)
        except OperatorError as e:
            fail(str(e))

    return check


def by_option(func: F) -> F:
    """--by: who is acting, recorded in the event trail (defaults to the login name)."""
    return click.option(
        "--by",
        default=None,
        callback=free_text(BY_LIMIT, blank_is_default=True),
        help="Who is acting (default: login name).",
    )(func)


def reason_option(help_text: str, **kwargs: Any) -> Callable[[F], F]:
    """--reason: why, recorded in the trail; refused with control or format characters."""
    return click.option("--reason", callback=free_text(REASON_LIMIT), help=help_text, **kwargs)


def event_filters(status_help: str, outcome_example: str) -> Callable[[F], F]:
    """The event filters `events search` and `replay` share (passed on as **options)."""

    def decorate(func: F) -> F:
        options = [
            click.option("--source"),
            click.option("--external-id"),
            click.option("--event-id", multiple=True, help="Repeatable."),
            click.option("--status", help=status_help),
            click.option(
                "--outcome", help=f"Events with a target that ended so (e.g. {outcome_example})."
            ),
            click.option("--since", help="ISO 8601, epoch seconds or an age (2h, 7d)."),
            click.option("--until"),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


class AsciiInt(click.ParamType[int]):
    """A whole number in ASCII digits: click's int() also reads Arabic-Indic digits."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """The number, or a usage error naming the option."""
        if isinstance(value, int):
            return value
        text = str(value)
        if not (text.isascii() and text.isdigit() and len(text) <= 9):
            self.fail(f"{text[:20]!r} is not a whole number", param, ctx)
        return int(text)


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
