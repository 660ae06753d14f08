"""What the commands share: settings (and the embedded Redis of `run`), one-line failures,
and the operator context, error handling and options (--by, --reason, the event filters)."""

from __future__ import annotations

import dataclasses
import functools
import getpass
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import redis

from consumer import logs
from consumer.errors import ConfigError, ConsumerError, OperatorError
from consumer.models import BY_LIMIT, REASON_LIMIT, check_free_text
from consumer.ops import Ops
from consumer.settings import Settings, load_settings
from consumer.store.connection import connect

F = TypeVar("F", bound=Callable[..., Any])

# Written by `zeeg-consumer run` while its embedded Redis runs, removed when it stops.
EMBEDDED_URL = Path("var") / "redis.url"


def fail(message: str, code: int = 1) -> NoReturn:
    """Exit non-zero (1 unless told) with one clear line on stderr: a JSON record where the
    command's logs are JSON (web, worker, run under LOG_FORMAT=json)."""
    if logs.json_configured():
        logging.getLogger("consumer.cli").error("%s", message)
    else:
        click.echo(f"zeeg-consumer: {message}", err=True)
    sys.exit(code)


def get_settings(
    *, require_token: bool = False, sandbox: bool = False, embedded: bool = True
) -> Settings:
    """Load settings for the running command, or exit with every problem on one line.

    Without REDIS_URL, a command run beside a running `zeeg-consumer run` (make run) uses its
    embedded Redis, whose URL that process keeps in var/redis.url (embedded=False: never).
    """
    ctx = click.get_current_context()
    try:
        settings = load_settings(ctx.find_root().obj.get("config"))
    except ConfigError as e:
        fail(str(e))
    no_redis = settings.redis_url is None and settings.redis_sentinel is None
    if embedded and no_redis and EMBEDDED_URL.is_file():
        url = EMBEDDED_URL.read_text(encoding="utf-8").strip()
        if url.startswith(("redis://", "rediss://", "unix://")):
            settings = dataclasses.replace(settings, redis_url=url)
    if require_token and not settings.zeeg.token and not (sandbox or settings.sandbox):
        fail("ZEEG_API_TOKEN is not set: set it, or pass --sandbox to use the built-in fake Zeeg")
    return settings


def get_ops() -> Ops:
    """The operator context for this command (settings from --config / CONSUMER_CONFIG)."""
    settings = get_settings()
    return Ops(settings, connect(settings.redis_url, settings.redis_sentinel))


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
